package dev.thinkproxy;

import java.util.Objects;

/**
 * One pair of reasoning delimiters, matched case-insensitively: {@code <think>}/{@code </think>} for the name
 * {@code think}, or an explicit pair for families that are not XML-like, such as {@code ◁think▷}/{@code ◁/think▷}.
 *
 * @param open the opening delimiter, e.g. {@code <think>}
 * @param close the closing delimiter, e.g. {@code </think>}
 */
public record ThinkTag(String open, String close) {

  /**
   * Validates the pair.
   *
   * @param open the opening delimiter, not empty
   * @param close the closing delimiter, not empty and different from {@code open} ignoring case
   * @throws IllegalArgumentException when a delimiter is empty or both are the same
   */
  public ThinkTag {
    Objects.requireNonNull(open, "open");
    Objects.requireNonNull(close, "close");
    if (open.isEmpty() || close.isEmpty()) {
      throw new IllegalArgumentException("tag delimiters must not be empty");
    }
    if (open.equalsIgnoreCase(close)) {
      throw new IllegalArgumentException("open and close delimiters must differ: " + open);
    }
  }

  /**
   * The XML-style pair for a tag name: {@code named("think")} is {@code <think>}/{@code </think>}.
   *
   * @param name the tag name, without {@code <}, {@code >}, {@code /} or whitespace
   * @return the pair
   * @throws IllegalArgumentException when {@code name} is not a tag name
   */
  public static ThinkTag named(String name) {
    if (name == null || name.isBlank() || name.matches(".*[<>/\\s].*")) {
      throw new IllegalArgumentException("not a tag name: " + name);
    }
    return new ThinkTag("<" + name + ">", "</" + name + ">");
  }

  /**
   * Parses one entry of the {@code --think-tags} list: a name ({@code think}) or an explicit pair written
   * {@code OPEN|CLOSE} ({@code ◁think▷|◁/think▷}).
   *
   * @param entry the entry
   * @return the pair
   * @throws IllegalArgumentException when {@code entry} is neither form
   */
  public static ThinkTag parse(String entry) {
    String s = entry.strip();
    int bar = s.indexOf('|');
    if (bar < 0) {
      return named(s);
    }
    return new ThinkTag(s.substring(0, bar).strip(), s.substring(bar + 1).strip());
  }

  @Override
  public String toString() {
    return open + "|" + close;
  }
}
