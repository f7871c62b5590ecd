package dev.thinkproxy;

import java.util.Locale;

/** What the proxy does with reasoning in chat-completion responses. */
public enum ThinkMode {
  /** Move text inside {@code <think>…</think>} out of {@code content} into the reasoning field (the default). */
  SPLIT,
  /** The reverse, for clients that only read {@code content}: a reasoning field becomes a {@code <think>} block. */
  WRAP,
  /** Remove reasoning entirely, both tags in {@code content} and reasoning fields. */
  STRIP,
  /** Pass responses through untouched. */
  OFF;

  /**
   * Parses a mode name.
   *
   * @param value {@code split}, {@code wrap}, {@code strip} or {@code off}, in any case
   * @return the mode
   * @throws IllegalArgumentException for any other value
   */
  public static ThinkMode parse(String value) {
    try {
      return valueOf(value.strip().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("think mode must be one of split, wrap, strip, off: " + value, e);
    }
  }

  /** {@return the lower-case name used in flags and headers} */
  public String id() {
    return name().toLowerCase(Locale.ROOT);
  }
}
