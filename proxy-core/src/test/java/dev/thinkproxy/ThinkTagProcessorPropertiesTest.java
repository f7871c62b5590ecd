package dev.thinkproxy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.thinkproxy.ThinkTagProcessor.Segment;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Assume;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/**
 * The invariant of DESIGN §3: for every way of cutting the text into pieces, the concatenated reasoning and the
 * concatenated content are those of the one-piece result; no character is dropped, duplicated or reordered; no
 * segment is empty; a surrogate pair is never split; and no tag text leaks into content.
 */
class ThinkTagProcessorPropertiesTest {

  /** Processor configurations the invariant must hold for. */
  enum Config {
    DEFAULT(false, false, false),
    MULTI_TAG(false, false, false, MULTI_TAGS),
    MULTI_TAG_ANYWHERE(true, false, false, MULTI_TAGS),
    MULTI_TAG_IMPLICIT_OPEN_KEEP_WHITESPACE(false, true, true, MULTI_TAGS),
    ANYWHERE(true, false, false),
    KEEP_WHITESPACE(false, true, false),
    IMPLICIT_OPEN(false, false, true),
    ANYWHERE_KEEP_WHITESPACE(true, true, false),
    IMPLICIT_OPEN_KEEP_WHITESPACE(false, true, true),
    ANYWHERE_IMPLICIT_OPEN(true, false, true);

    final boolean anywhere;
    final boolean keepWhitespace;
    final boolean implicitOpen;
    final List<ThinkTag> tags;

    Config(boolean anywhere, boolean keepWhitespace, boolean implicitOpen) {
      this(anywhere, keepWhitespace, implicitOpen, List.of(ThinkTag.named("think")));
    }

    Config(boolean anywhere, boolean keepWhitespace, boolean implicitOpen, List<ThinkTag> tags) {
      this.anywhere = anywhere;
      this.keepWhitespace = keepWhitespace;
      this.implicitOpen = implicitOpen;
      this.tags = tags;
    }

    ThinkTagProcessor processor() {
      return ThinkTagProcessor.builder().tags(tags).anywhere(anywhere).keepWhitespace(keepWhitespace)
          .implicitOpen(implicitOpen).build();
    }

    boolean multiTag() {
      return tags.size() > 1;
    }
  }

  private static final List<ThinkTag> MULTI_TAGS =
      List.of(ThinkTag.named("think"), ThinkTag.named("thinking"), ThinkTag.parse("◁think▷|◁/think▷"));

  @Provide
  Arbitrary<String> texts() {
    return Arbitraries.frequencyOf(Tuple.of(3, ThinkTexts.texts(16)), Tuple.of(1, ThinkTexts.multiTagTexts(16)));
  }

  /**
   * Whether a strict prefix of a tag sits right before a tag. Removing an orphan closing tag (or, in anywhere mode,
   * a block) joins the text on its two sides, so {@code "<</think>think>"} becomes the content {@code "<think>"}: tag
   * text made of two non-tags, which the leak property cannot tell from a leak (see the report; a known limitation).
   */
  static boolean hasJoinableTagPrefix(String text, List<ThinkTag> tags) {
    String lower = text.toLowerCase(Locale.ROOT);
    for (ThinkTag t : tags) {
      for (String tag : List.of(t.open(), t.close())) {
        int at = lower.indexOf(tag.toLowerCase(Locale.ROOT));
        while (at >= 0) {
          for (ThinkTag u : tags) {
            for (String other : List.of(u.open(), u.close())) {
              for (int len = 1; len < other.length(); len++) {
                if (at >= len && lower.regionMatches(at - len, other.toLowerCase(Locale.ROOT), 0, len)) {
                  return true;
                }
              }
            }
          }
          at = lower.indexOf(tag.toLowerCase(Locale.ROOT), at + 1);
        }
      }
    }
    return false;
  }

  private static Pattern tagPattern(List<ThinkTag> tags) {
    StringBuilder b = new StringBuilder();
    for (ThinkTag t : tags) {
      b.append(b.length() == 0 ? "" : "|").append(Pattern.quote(t.open())).append('|').append(Pattern.quote(t.close()));
    }
    return Pattern.compile(b.toString(), Pattern.CASE_INSENSITIVE | Pattern.UNICODE_CASE);
  }

  @Provide
  Arbitrary<String> shortTexts() {
    return texts().filter(t -> t.length() <= 40);
  }

  // ---- chunking invariance ----

  @Property(tries = 1000)
  void randomChunkingGivesTheOneShotResult(@ForAll("texts") String text,
      @ForAll @Size(max = 8) List<@IntRange(min = 0, max = 10_000) Integer> cuts, @ForAll Config config) {
    ThinkRun whole = ThinkRun.of(config.processor(), text);
    ThinkRun pieces = ThinkRun.of(config.processor(), pieces(text, cuts));

    assertThat(pieces.reasoning()).as("reasoning").isEqualTo(whole.reasoning());
    assertThat(pieces.content()).as("content").isEqualTo(whole.content());
    assertWellFormed(pieces);
  }

  @Property(tries = 400)
  void everySingleCutGivesTheOneShotResult(@ForAll("shortTexts") String text, @ForAll Config config) {
    ThinkRun whole = ThinkRun.of(config.processor(), text);
    for (int i = 1; i < text.length(); i++) {
      ThinkRun cut = ThinkRun.of(config.processor(), text.substring(0, i), text.substring(i));
      assertThat(cut.reasoning()).as("reasoning, cut at %d", i).isEqualTo(whole.reasoning());
      assertThat(cut.content()).as("content, cut at %d", i).isEqualTo(whole.content());
      assertWellFormed(cut);
    }
  }

  @Property(tries = 300)
  void oneCharacterAtATimeGivesTheOneShotResult(@ForAll("texts") String text, @ForAll Config config) {
    ThinkRun whole = ThinkRun.of(config.processor(), text);
    ThinkRun chars = ThinkRun.of(config.processor(), text.split(""));

    assertThat(chars.reasoning()).isEqualTo(whole.reasoning());
    assertThat(chars.content()).isEqualTo(whole.content());
    assertWellFormed(chars);
  }

  // ---- no character dropped, duplicated or reordered ----

  @Property(tries = 1000)
  void textOutsideTagsAndWhitespaceIsNeitherDroppedDuplicatedNorReordered(@ForAll("texts") String text,
      @ForAll @Size(max = 8) List<@IntRange(min = 0, max = 10_000) Integer> cuts, @ForAll Config config) {
    ThinkRun run = ThinkRun.of(config.processor(), pieces(text, cuts));

    StringBuilder inOutputOrder = new StringBuilder();
    run.segments().forEach(s -> inOutputOrder.append(s.text()));
    assertThat(markers(inOutputOrder.toString())).isEqualTo(markers(text));
  }

  @Property(tries = 500)
  void textIsReleasedAsSoonAsItEndsInACharacterNoTagContains(@ForAll("texts") String text,
      @ForAll @Size(max = 8) List<@IntRange(min = 0, max = 10_000) Integer> cuts, @ForAll Config config) {
    ThinkTagProcessor p = config.processor();
    StringBuilder fed = new StringBuilder();
    StringBuilder emitted = new StringBuilder();
    for (String piece : pieces(text, cuts)) {
      fed.append(piece);
      p.feed(piece).forEach(s -> emitted.append(s.text()));
      if (fed.length() > 0 && isMarker(fed.charAt(fed.length() - 1))) {
        assertThat(markers(emitted.toString())).as("after %s", fed).isEqualTo(markers(fed.toString()));
      }
    }
  }

  // ---- no tag leaks ----

  @Property(tries = 1000)
  void leadingTagsNeverLeakIntoContent(@ForAll("texts") String text,
      @ForAll @Size(max = 8) List<@IntRange(min = 0, max = 10_000) Integer> cuts, @ForAll Config config) {
    Assume.that(!hasJoinableTagPrefix(text, config.tags));
    ThinkRun run = ThinkRun.of(config.processor(), pieces(text, cuts));

    String content = run.content();
    Matcher m = tagPattern(config.tags).matcher(content);
    while (m.find()) {
      String before = content.substring(0, m.start());
      assertThat(before.isBlank() && before.indexOf('\u00A0') < 0)
          .as("tag %s at %d in content %s has no content before it", m.group(), m.start(), show(content))
          .isFalse();
      if (config.anywhere) {
        assertThat(m.group()).as("in anywhere mode no tag stays in content: %s", show(content)).isNull();
      }
    }
  }

  @Property(tries = 500)
  void reasoningNeverContainsTheTagThatClosesItsBlock(@ForAll("texts") String text) {
    // With the single default tag, the first closing tag inside a block ends it, so it can never be reasoning text.
    ThinkRun run = ThinkRun.of(Config.DEFAULT.processor(), text);

    assertThat(run.reasoning().toLowerCase(Locale.ROOT)).doesNotContain("</think>");
  }

  @Property(tries = 300)
  void keepWhitespaceLosesNoWhitespaceAndAddsOnlyBlockSeparators(@ForAll("texts") String text,
      @ForAll @Size(max = 8) List<@IntRange(min = 0, max = 10_000) Integer> cuts) {
    // With whitespace kept, nothing but consumed tags disappears, and only the blank line between two blocks is
    // added: every whitespace character of the input survives somewhere.
    ThinkRun run = ThinkRun.of(Config.KEEP_WHITESPACE.processor(), pieces(text, cuts));

    StringBuilder all = new StringBuilder();
    run.segments().forEach(s -> all.append(s.text()));
    long openingTags = Pattern.compile("<think>", Pattern.CASE_INSENSITIVE).matcher(text).results().count();
    assertThat(whitespaceCount(all.toString())).isBetween(whitespaceCount(text), whitespaceCount(text) + 2 * openingTags);
  }

  @Example
  void generatorProducesTagsSplitSurrogatesAndWhitespace() {
    // A guard on the generator itself: the interesting shapes are there.
    List<String> sample = texts().sampleStream().limit(500).toList();
    assertThat(sample).anyMatch(t -> t.contains("<think>"));
    assertThat(sample).anyMatch(t -> t.contains("</Think>"));
    assertThat(sample).anyMatch(t -> t.contains("😀"));
    assertThat(sample).anyMatch(t -> t.length() > 40);
    assertThat(sample).anyMatch(t -> t.length() <= 40 && t.length() > 10);
  }

  // ---- helpers ----

  /** Cuts the text at the given positions (taken modulo its length + 1; repeats give empty pieces). */
  static List<String> pieces(String text, List<Integer> cuts) {
    List<Integer> at = new ArrayList<>();
    for (int c : cuts) {
      at.add(c % (text.length() + 1));
    }
    at.sort(Integer::compare);
    List<String> pieces = new ArrayList<>();
    int from = 0;
    for (int p : at) {
      pieces.add(text.substring(from, p));
      from = p;
    }
    pieces.add(text.substring(from));
    return pieces;
  }

  private static void assertWellFormed(ThinkRun run) {
    for (List<Segment> call : run.perCall()) {
      for (int i = 0; i < call.size(); i++) {
        Segment s = call.get(i);
        assertThat(s.text()).as("segment text").isNotEmpty();
        assertThat(Character.isLowSurrogate(s.text().charAt(0))).as("segment %s starts with a low surrogate", s)
            .isFalse();
        assertThat(Character.isHighSurrogate(s.text().charAt(s.text().length() - 1)))
            .as("segment %s ends with a high surrogate", s).isFalse();
        if (i > 0) {
          assertThat(s.kind()).as("adjacent segments of one call are merged").isNotEqualTo(call.get(i - 1).kind());
        }
      }
    }
  }

  private static final String TAG_CHARS = "<>/thinkgTHINKG◁▷";

  /** Characters that no tag contains and that are not whitespace: they must pass through exactly once, in order. */
  private static boolean isMarker(char c) {
    return TAG_CHARS.indexOf(c) < 0 && !Character.isWhitespace(c) && c != '\u00A0'
        && !Character.isHighSurrogate(c);
  }

  private static String markers(String s) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (TAG_CHARS.indexOf(c) < 0 && !Character.isWhitespace(c) && c != '\u00A0') {
        b.append(c);
      }
    }
    return b.toString();
  }

  private static long whitespaceCount(String s) {
    return s.chars().filter(c -> Character.isWhitespace(c) || c == '\u00A0').count();
  }

  private static String show(String s) {
    return "\"" + s.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t") + "\"";
  }
}
