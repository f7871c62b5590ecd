package dev.thinkproxy;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Separates reasoning from content in one choice's text as it streams: text between a leading opening tag
 * ({@code <think>}) and its closing tag ({@code </think>}) is reasoning, the rest is content.
 *
 * <p>Feed the text in the order it arrives, in pieces of any size, then call {@link #finish()}. The
 * concatenated reasoning and the concatenated content are the same for every way of cutting the text into
 * pieces: a tag split across pieces ({@code "<th"}, {@code "ink>"}) is recognised, and text that may still
 * become a tag is held back until the next piece decides it. Only the shortest such suffix is held (at most
 * one tag length, plus a run of whitespace that the rules below may drop); everything else is returned at
 * once, and text once returned is never changed.
 *
 * <p>The rules:
 * <ul>
 *   <li>An opening tag is honoured only while the choice has produced no non-whitespace content (at the start,
 *       or after a previous block), unless {@link Builder#anywhere(boolean)} is set. A later opening tag is
 *       literal content, and so is the closing tag that pairs with it.</li>
 *   <li>Inside a block only the matching closing tag ends it; an unclosed block at the end stays reasoning.</li>
 *   <li>A closing tag that no block opened (an orphan) is removed; the text before it stays content.</li>
 *   <li>{@linkplain Builder#implicitOpen(boolean) Implicit open}: the text starts inside a block, for chat
 *       templates that put the opening tag in the prompt; a leading explicit opening tag is still consumed.</li>
 *   <li>Whitespace: reasoning loses its leading and trailing whitespace, and the whitespace right after a closing
 *       tag and before a leading opening tag is dropped, unless {@link Builder#keepWhitespace(boolean)} is set.
 *       Consecutive blocks are joined with a blank line.</li>
 *   <li>Tags match case-insensitively.</li>
 * </ul>
 *
 * <p>Pure: no JSON, no I/O, no threads. One instance holds the state of one choice of one response and is not
 * thread-safe; create one per choice with {@link #builder()} or {@link ThinkOptions#newProcessor(boolean)}.
 */
public final class ThinkTagProcessor {

  /** Which field a segment belongs to. */
  public enum Kind {
    /** Text that goes to the reasoning field. */
    REASONING,
    /** Text that stays in {@code content}. */
    CONTENT
  }

  /**
   * A run of text of one kind, in output order.
   *
   * @param kind reasoning or content
   * @param text the text, never empty
   */
  public record Segment(Kind kind, String text) {
    /**
     * Validates the segment.
     *
     * @param kind reasoning or content
     * @param text the text
     */
    public Segment {
      Objects.requireNonNull(kind, "kind");
      Objects.requireNonNull(text, "text");
    }
  }

  private static final String BLOCK_SEPARATOR = "\n\n";

  private final String[] opens;
  private final String[] closes;
  private final int longestTag;
  /**
   * Bit {@code c} is set when the ASCII character {@code c} can begin a tag, as {@link String#regionMatches(boolean,
   * int, String, int, int)} compares it: most text has no tag start at most positions, and a table lookup rules
   * them out before any comparison. Characters from 128 up are always compared.
   */
  private final long tagStartsLow;
  private final long tagStartsHigh;
  private final boolean anywhere;
  private final boolean trim;

  private String held = "";
  private boolean inside;
  /** Index of the tag pair that opened the current block, or -1 for an implicit block (any close ends it). */
  private int block = -1;
  private boolean reasoningStarted;
  private boolean implicitFresh;
  private boolean reasoningEmitted;
  private boolean blockSeparatorDue;
  private boolean sawContent;
  private boolean skipWhitespace;
  private boolean literalOpen;
  /** The last {@code longestTag - 1} characters of content, to see literal tags that span two pieces. */
  private String contentTail = "";
  private boolean finished;
  private @Nullable List<Segment> out;

  private ThinkTagProcessor(Builder b) {
    this.opens = b.tags.stream().map(ThinkTag::open).toArray(String[]::new);
    this.closes = b.tags.stream().map(ThinkTag::close).toArray(String[]::new);
    int longest = 1;
    for (ThinkTag t : b.tags) {
      longest = Math.max(longest, Math.max(t.open().length(), t.close().length()));
    }
    this.longestTag = longest;
    long low = 0;
    long high = 0;
    for (char c = 0; c < 128; c++) {
      if (beginsATag(c)) {
        if (c < 64) {
          low |= 1L << c;
        } else {
          high |= 1L << (c - 64);
        }
      }
    }
    this.tagStartsLow = low;
    this.tagStartsHigh = high;
    this.anywhere = b.anywhere;
    this.trim = !b.keepWhitespace;
    if (b.implicitOpen) {
      inside = true;
      implicitFresh = true;
      reasoningStarted = !trim;
    }
  }

  /**
   * Starts a processor.
   *
   * @return a builder with the defaults: tag {@code think}, leading blocks only, whitespace trimmed, no implicit
   *     open
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Processes the next piece of text and returns the segments that are decided, in order; adjacent segments of
   * the same kind are merged.
   *
   * @param text the next piece of text, of any length
   * @return the decided segments, in order; empty when everything was held back
   * @throws IllegalStateException after {@link #finish()}
   */
  public List<Segment> feed(CharSequence text) {
    if (finished) {
      throw new IllegalStateException("finish() was called");
    }
    if (text.length() == 0) {
      return List.of();
    }
    out = null;
    process(held.isEmpty() ? text.toString() : held + text);
    return result();
  }

  /**
   * Ends the text: releases what was held back (as reasoning inside an unclosed block, as content otherwise)
   * and returns it. The processor accepts no more text afterwards; further calls return an empty list.
   *
   * @return the segments released, in order
   */
  public List<Segment> finish() {
    if (finished) {
      return List.of();
    }
    finished = true;
    out = null;
    String rest = held;
    held = "";
    if (inside) {
      emitReasoning(trim ? rest.stripTrailing() : rest);
    } else {
      emitContent(rest);
    }
    return result();
  }

  /** {@return whether the text so far ends inside a reasoning block} */
  public boolean insideReasoning() {
    return inside;
  }

  /** {@return whether non-whitespace content was produced, which ends the leading position for opening tags} */
  public boolean contentStarted() {
    return sawContent;
  }

  /** Whether text is held back, to be decided by what comes next or released by {@link #finish()}. */
  boolean holdsText() {
    return !held.isEmpty();
  }

  private List<Segment> result() {
    List<Segment> r = out;
    out = null;
    return r == null ? List.of() : Collections.unmodifiableList(r);
  }

  private void process(String buf) {
    int n = buf.length();
    int i = 0;
    while (true) {
      if (inside) {
        if (!reasoningStarted) {
          while (i < n && isWhitespace(buf.charAt(i))) {
            i++;
          }
          if (i == n) {
            held = "";
            return;
          }
        }
        if (implicitFresh) {
          int t = matchAt(opens, buf, i);
          if (t >= 0) {
            implicitFresh = false;
            block = t;
            reasoningStarted = !trim;
            i += opens[t].length();
            continue;
          }
          if (isStrictPrefix(opens, buf, i)) {
            held = buf.substring(i);
            return;
          }
          implicitFresh = false;
        }
        reasoningStarted = true;
        int[] close = findClose(buf, i);
        if (close != null) {
          int j = close[0];
          String reasoning = buf.substring(i, j);
          emitReasoning(trim ? reasoning.stripTrailing() : reasoning);
          i = j + close[1];
          inside = false;
          block = -1;
          skipWhitespace = trim;
          continue;
        }
        int h = heldSuffixStart(block >= 0 ? new String[] {closes[block]} : closes, buf, i);
        if (trim) {
          while (h > i && isWhitespace(buf.charAt(h - 1))) {
            h--;
          }
        }
        h = keepSurrogatePair(buf, i, h);
        emitReasoning(buf.substring(i, h));
        held = buf.substring(h);
        return;
      }

      if (skipWhitespace) {
        while (i < n && isWhitespace(buf.charAt(i))) {
          i++;
        }
        if (i == n) {
          held = "";
          return;
        }
        skipWhitespace = false;
      }

      if (!sawContent) {
        int k = i;
        while (k < n && isWhitespace(buf.charAt(k))) {
          k++;
        }
        if (!trim && k > i) {
          emitContent(buf.substring(i, k));
          i = k;
        }
        if (k == n) {
          held = buf.substring(i);
          return;
        }
        int t = matchAt(opens, buf, k);
        if (t >= 0) {
          openBlock(t);
          i = k + opens[t].length();
          continue;
        }
        int c = matchAt(closes, buf, k);
        if (c >= 0) {
          i = k + closes[c].length();
          skipWhitespace = trim;
          continue;
        }
        if (isStrictPrefix(opens, buf, k) || isStrictPrefix(closes, buf, k)) {
          held = buf.substring(i);
          return;
        }
        sawContent = true;
        // The whitespace before the first content character is content; scan on from it.
        continue;
      }

      if (anywhere) {
        int[] hit = findFirst(buf, i, true);
        if (hit != null) {
          emitContent(buf.substring(i, hit[0]));
          if (hit[2] == 1) {
            openBlock(hit[1]);
            i = hit[0] + opens[hit[1]].length();
          } else {
            i = hit[0] + closes[hit[1]].length();
            skipWhitespace = trim;
          }
          continue;
        }
        int h = heldSuffixStart(opens, closes, buf, i);
        h = keepSurrogatePair(buf, i, h);
        emitContent(buf.substring(i, h));
        held = buf.substring(h);
        return;
      }

      // Content has started: opening tags are literal. Track literal pairs (which may span pieces, hence the
      // tail of earlier content) so that the closing tag of a literal pair stays literal too.
      if (noTagBegins(contentTail, 0) && noTagBegins(buf, i)) {
        // The usual piece of an answer: nothing in it can be or become a tag.
        emitContent(buf.substring(i));
        held = "";
        return;
      }
      String s = contentTail + buf.substring(i);
      int offset = contentTail.length() - i; // position in s of buf index x is x + offset
      int[] hit = findFirstSpanning(s, contentTail.length());
      if (hit != null) {
        int start = hit[0] - offset;
        boolean isOpen = hit[2] == 1;
        int len = isOpen ? opens[hit[1]].length() : closes[hit[1]].length();
        if (isOpen || literalOpen || start < i) {
          literalOpen = isOpen;
          emitContent(buf.substring(i, start + len));
          i = start + len;
        } else {
          emitContent(buf.substring(i, start));
          i = start + len;
          skipWhitespace = trim;
        }
        continue;
      }
      int h = literalOpen ? n : heldSuffixStart(closes, buf, i);
      h = keepSurrogatePair(buf, i, h);
      emitContent(buf.substring(i, h));
      held = buf.substring(h);
      return;
    }
  }

  private void openBlock(int tag) {
    inside = true;
    block = tag;
    reasoningStarted = !trim;
    blockSeparatorDue = reasoningEmitted;
  }

  private void emitReasoning(String text) {
    if (text.isEmpty()) {
      return;
    }
    if (blockSeparatorDue) {
      blockSeparatorDue = false;
      append(Kind.REASONING, BLOCK_SEPARATOR);
    }
    reasoningEmitted = true;
    append(Kind.REASONING, text);
  }

  private void emitContent(String text) {
    if (text.isEmpty()) {
      return;
    }
    if (!sawContent) {
      for (int k = 0; k < text.length(); k++) {
        if (!isWhitespace(text.charAt(k))) {
          sawContent = true;
          break;
        }
      }
    }
    append(Kind.CONTENT, text);
    int keep = longestTag - 1;
    if (keep > 0) {
      String t = text.length() >= keep ? text.substring(text.length() - keep) : contentTail + text;
      contentTail = t.length() > keep ? t.substring(t.length() - keep) : t;
    }
  }

  private void append(Kind kind, String text) {
    if (out == null) {
      out = new ArrayList<>(2);
    }
    int last = out.size() - 1;
    if (last >= 0 && out.get(last).kind() == kind) {
      out.set(last, new Segment(kind, out.get(last).text() + text));
    } else {
      out.add(new Segment(kind, text));
    }
  }

  /** The earliest closing tag that ends the current block: {@code {position, length}}, or null. */
  private int[] findClose(String buf, int from) {
    int n = buf.length();
    for (int p = from; p < n; p++) {
      if (block >= 0) {
        if (mayBeginTag(buf, p) && buf.regionMatches(true, p, closes[block], 0, closes[block].length())) {
          return new int[] {p, closes[block].length()};
        }
      } else {
        int c = matchAt(closes, buf, p);
        if (c >= 0) {
          return new int[] {p, closes[c].length()};
        }
      }
    }
    return null;
  }

  /** The earliest opening or closing tag at or after {@code from}: {@code {position, tag, isOpen}}, or null. */
  private int[] findFirst(String s, int from, boolean withOpens) {
    for (int p = from; p < s.length(); p++) {
      if (withOpens) {
        int t = matchAt(opens, s, p);
        if (t >= 0) {
          return new int[] {p, t, 1};
        }
      }
      int c = matchAt(closes, s, p);
      if (c >= 0) {
        return new int[] {p, c, 0};
      }
    }
    return null;
  }

  /** Like {@link #findFirst} but only tags that end after {@code boundary}; they may start before it. */
  private int[] findFirstSpanning(String s, int boundary) {
    for (int p = Math.max(0, boundary - longestTag + 1); p < s.length(); p++) {
      int t = matchAt(opens, s, p);
      if (t >= 0 && p + opens[t].length() > boundary) {
        return new int[] {p, t, 1};
      }
      int c = matchAt(closes, s, p);
      if (c >= 0 && p + closes[c].length() > boundary) {
        return new int[] {p, c, 0};
      }
    }
    return null;
  }

  private boolean beginsATag(char c) {
    String one = String.valueOf(c);
    for (String[] tags : new String[][] {opens, closes}) {
      for (String tag : tags) {
        if (one.regionMatches(true, 0, tag, 0, 1)) {
          return true;
        }
      }
    }
    return false;
  }

  private boolean noTagBegins(String s, int from) {
    for (int p = from; p < s.length(); p++) {
      if (mayBeginTag(s, p)) {
        return false;
      }
    }
    return true;
  }

  /** False only where no tag can begin at {@code s[p]}. */
  private boolean mayBeginTag(String s, int p) {
    char c = s.charAt(p);
    if (c >= 128) {
      return true;
    }
    return ((c < 64 ? tagStartsLow >>> c : tagStartsHigh >>> (c - 64)) & 1) != 0;
  }

  private int matchAt(String[] tags, String s, int p) {
    if (p >= s.length() || !mayBeginTag(s, p)) {
      return -1;
    }
    for (int t = 0; t < tags.length; t++) {
      if (s.regionMatches(true, p, tags[t], 0, tags[t].length())) {
        return t;
      }
    }
    return -1;
  }

  /** Whether {@code s[from..]} is non-empty and a strict prefix of one of the tags. */
  private boolean isStrictPrefix(String[] tags, String s, int from) {
    int len = s.length() - from;
    if (len <= 0 || !mayBeginTag(s, from)) {
      return false;
    }
    for (String tag : tags) {
      if (len < tag.length() && s.regionMatches(true, from, tag, 0, len)) {
        return true;
      }
    }
    return false;
  }

  /** The start of the longest suffix of {@code s[from..]} that is a strict prefix of a tag, or its length. */
  private int heldSuffixStart(String[] tags, String s, int from) {
    return heldSuffixStart(tags, null, s, from);
  }

  private int heldSuffixStart(String[] tags, String[] moreTags, String s, int from) {
    int n = s.length();
    for (int j = Math.max(from, n - longestTag + 1); j < n; j++) {
      if (isStrictPrefix(tags, s, j) || (moreTags != null && isStrictPrefix(moreTags, s, j))) {
        return j;
      }
    }
    return n;
  }

  /** Never ends emitted text between the two halves of a surrogate pair at the end of the input. */
  private static int keepSurrogatePair(String s, int from, int h) {
    if (h == s.length() && h > from && Character.isHighSurrogate(s.charAt(h - 1))) {
      return h - 1;
    }
    return h;
  }

  private static boolean isWhitespace(char c) {
    return Character.isWhitespace(c) || c == '\u00A0';
  }

  /** Configures a {@link ThinkTagProcessor}. */
  public static final class Builder {
    private List<ThinkTag> tags = List.of(ThinkTag.named("think"));
    private boolean anywhere;
    private boolean keepWhitespace;
    private boolean implicitOpen;

    private Builder() {}

    /**
     * The delimiter pairs to recognise, in order of preference. Default: {@code <think>}/{@code </think>}.
     *
     * @param tags at least one pair
     * @return this builder
     */
    public Builder tags(List<ThinkTag> tags) {
      if (tags.isEmpty()) {
        throw new IllegalArgumentException("at least one tag is required");
      }
      this.tags = List.copyOf(tags);
      return this;
    }

    /**
     * Extract every block wherever it appears, not only leading ones. Default false.
     *
     * @param anywhere whether to extract blocks anywhere
     * @return this builder
     */
    public Builder anywhere(boolean anywhere) {
      this.anywhere = anywhere;
      return this;
    }

    /**
     * Keep whitespace around tags byte-exact instead of trimming it. Default false.
     *
     * @param keepWhitespace whether to keep whitespace
     * @return this builder
     */
    public Builder keepWhitespace(boolean keepWhitespace) {
      this.keepWhitespace = keepWhitespace;
      return this;
    }

    /**
     * Start inside a reasoning block, as if the opening tag had been sent. Default false.
     *
     * @param implicitOpen whether the text starts inside a block
     * @return this builder
     */
    public Builder implicitOpen(boolean implicitOpen) {
      this.implicitOpen = implicitOpen;
      return this;
    }

    /** {@return a new processor in its initial state} */
    public ThinkTagProcessor build() {
      return new ThinkTagProcessor(this);
    }
  }
}
