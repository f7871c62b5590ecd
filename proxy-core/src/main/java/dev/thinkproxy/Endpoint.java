package dev.thinkproxy;

/** Which API an upstream path belongs to, which decides whether the answer is parsed for reasoning. */
enum Endpoint {
  /** {@code …/chat/completions}: {@code choices[].delta} / {@code choices[].message} carry the text. */
  CHAT_COMPLETIONS,
  /** The legacy {@code …/completions}: {@code choices[].text} carries the text. */
  COMPLETIONS,
  /** Anything else (models, embeddings, audio, files, messages…): relayed unchanged. */
  OTHER;

  static Endpoint of(String encodedPath) {
    if (encodedPath.endsWith("/chat/completions")) {
      return CHAT_COMPLETIONS;
    }
    return encodedPath.endsWith("/completions") ? COMPLETIONS : OTHER;
  }

  boolean parsed() {
    return this != OTHER;
  }
}
