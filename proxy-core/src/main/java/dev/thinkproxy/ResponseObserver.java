package dev.thinkproxy;

/**
 * What the rewriters tell the exchange about the answer as it goes out, for {@link ProxyListener}s, in every think
 * mode ({@code off} included, where they change nothing and only observe). Called on the thread that relays the
 * response, many times per response; each call is cheap, and the exchange keeps only the first of each.
 */
interface ResponseObserver {
  ResponseObserver NONE = new ResponseObserver() {};

  /**
   * Non-empty reasoning text of a choice went out: in its field, wrapped in tags, or removed by {@code strip} (the
   * model produced it all the same). Reasoning is the upstream's own reasoning field, {@code thinking} parts, or
   * text inside a think block.
   */
  default void reasoning() {}

  /** Non-empty answer output of a choice went out: answer text, a refusal or a tool call. */
  default void content() {}

  /** A chunk, or the non-streaming body, carried a top-level {@code usage} object. */
  default void usage(TokenUsage usage) {}
}
