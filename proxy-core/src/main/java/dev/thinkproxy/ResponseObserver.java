package dev.thinkproxy;

/**
 * What the rewriters tell the exchange about the answer as it goes out, for {@link ProxyListener}s. Called on the
 * thread that relays the response; cheap to call often (the exchange keeps only the first of each).
 */
interface ResponseObserver {
  ResponseObserver NONE = new ResponseObserver() {};

  /** Reasoning text went out (in its field, wrapped in tags, or removed by {@code strip}). */
  default void reasoning() {}

  /** Answer output went out: content text, a refusal or a tool call. */
  default void content() {}

  /** The answer carried a {@code usage} object. */
  default void usage(TokenUsage usage) {}
}
