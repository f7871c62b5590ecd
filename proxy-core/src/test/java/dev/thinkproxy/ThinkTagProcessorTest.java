package dev.thinkproxy;

import static dev.thinkproxy.ThinkTagProcessor.Kind.CONTENT;
import static dev.thinkproxy.ThinkTagProcessor.Kind.REASONING;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.thinkproxy.ThinkTagProcessor.Segment;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Example tests for the rules of DESIGN §3 / think-spec §(c), one behaviour per test. */
class ThinkTagProcessorTest {

  private static ThinkTagProcessor defaults() {
    return ThinkTagProcessor.builder().build();
  }

  private static ThinkTagProcessor implicitOpen() {
    return ThinkTagProcessor.builder().implicitOpen(true).build();
  }

  private static ThinkTagProcessor keepWhitespace() {
    return ThinkTagProcessor.builder().keepWhitespace(true).build();
  }

  private static ThinkTagProcessor anywhere() {
    return ThinkTagProcessor.builder().anywhere(true).build();
  }

  @Nested
  class LeadingBlock {

    @Test
    void leadingBlockGoesToReasoningAndTheRestToContent() {
      ThinkRun r = ThinkRun.oneShot("<think>plan</think>answer");

      assertThat(r.reasoning()).isEqualTo("plan");
      assertThat(r.content()).isEqualTo("answer");
    }

    @Test
    void reasoningComesBeforeContentInOutputOrder() {
      ThinkRun r = ThinkRun.oneShot("<think>plan</think>answer");

      assertThat(r.segments()).containsExactly(new Segment(REASONING, "plan"), new Segment(CONTENT, "answer"));
    }

    @Test
    void textWithoutTagsIsAllContent() {
      ThinkRun r = ThinkRun.oneShot("Just an answer, no tags.");

      assertThat(r.reasoning()).isEmpty();
      assertThat(r.content()).isEqualTo("Just an answer, no tags.");
    }

    @Test
    void textWithoutTagsIsReleasedAtOnce() {
      List<Segment> out = defaults().feed("Hello world");

      assertThat(out).containsExactly(new Segment(CONTENT, "Hello world"));
    }

    @Test
    void reasoningIsReleasedAtOnceWhileTheBlockIsOpen() {
      ThinkTagProcessor p = defaults();

      assertThat(p.feed("<think>step one")).containsExactly(new Segment(REASONING, "step one"));
      assertThat(p.insideReasoning()).isTrue();
      assertThat(p.feed(", step two")).containsExactly(new Segment(REASONING, ", step two"));
    }

    @Test
    void emptyBlockProducesNoReasoning() {
      ThinkRun r = ThinkRun.oneShot("<think></think>answer");

      assertThat(r.reasoning()).isEmpty();
      assertThat(r.content()).isEqualTo("answer");
    }

    @Test
    void whitespaceOnlyBlockProducesNoReasoning() {
      ThinkRun r = ThinkRun.oneShot("<think>\n\n</think>\n\nanswer");

      assertThat(r.reasoning()).isEmpty();
      assertThat(r.content()).isEqualTo("answer");
    }

    @Test
    void nestedOpeningTagInsideABlockIsReasoningText() {
      ThinkRun r = ThinkRun.oneShot("<think>a <think> b</think>c");

      assertThat(r.reasoning()).isEqualTo("a <think> b");
      assertThat(r.content()).isEqualTo("c");
    }

    @Test
    void blockWithOnlyReasoningLeavesContentEmpty() {
      ThinkRun r = ThinkRun.oneShot("<think>only thinking</think>");

      assertThat(r.reasoning()).isEqualTo("only thinking");
      assertThat(r.content()).isEmpty();
    }
  }

  @Nested
  class SplitTags {
    private static final String TEXT = "<think>plan</think>answer";
    private static final String SPACED = "\n<think>\nplan it\n</think>\n\nanswer";

    static Stream<Integer> everyCutOfText() {
      return Stream.iterate(1, i -> i < TEXT.length(), i -> i + 1);
    }

    @ParameterizedTest(name = "cut at {0}")
    @MethodSource("everyCutOfText")
    void tagSplitAtAnyPositionIsRecognised(int cut) {
      ThinkRun r = ThinkRun.of(defaults(), ThinkRun.cut(TEXT, cut));

      assertThat(r.reasoning()).isEqualTo("plan");
      assertThat(r.content()).isEqualTo("answer");
    }

    @Test
    void tagsSplitAtEveryPairOfPositionsAreRecognised() {
      for (int i = 1; i < SPACED.length(); i++) {
        for (int j = i + 1; j < SPACED.length(); j++) {
          ThinkRun r = ThinkRun.of(defaults(), ThinkRun.cut(SPACED, i, j));
          assertThat(r.reasoning()).as("cuts %d,%d", i, j).isEqualTo("plan it");
          assertThat(r.content()).as("cuts %d,%d", i, j).isEqualTo("answer");
        }
      }
    }

    @Test
    void tagFedOneCharacterAtATimeIsRecognised() {
      ThinkRun r = ThinkRun.of(defaults(), SPACED.split(""));

      assertThat(r.reasoning()).isEqualTo("plan it");
      assertThat(r.content()).isEqualTo("answer");
    }

    @Test
    void partialOpeningTagIsHeldUntilDecided() {
      ThinkTagProcessor p = defaults();

      assertThat(p.feed("<th")).isEmpty();
      assertThat(p.feed("ink>x")).containsExactly(new Segment(REASONING, "x"));
    }

    @Test
    void heldPrefixThatTurnsOutNotToBeATagIsReleasedInOrder() {
      ThinkTagProcessor p = defaults();

      assertThat(p.feed("<th")).isEmpty();
      assertThat(p.feed("ings>")).containsExactly(new Segment(CONTENT, "<things>"));
    }

    @Test
    void htmlLikeTextAtTheStartIsReleasedAsSoonAsItCannotBeATag() {
      ThinkTagProcessor p = defaults();

      assertThat(p.feed("<")).isEmpty();
      assertThat(p.feed("b>bold")).containsExactly(new Segment(CONTENT, "<b>bold"));
    }

    @Test
    void partialClosingTagInsideABlockIsHeldAndOnlyIt() {
      ThinkTagProcessor p = defaults();

      assertThat(p.feed("<think>abc</")).containsExactly(new Segment(REASONING, "abc"));
      assertThat(p.feed("b>")).containsExactly(new Segment(REASONING, "</b>"));
    }
  }

  @Nested
  class EndOfText {

    @Test
    void textEndingInALessThanSignKeepsItAsContent() {
      ThinkTagProcessor p = defaults();

      assertThat(p.feed("a < b and b <")).containsExactly(new Segment(CONTENT, "a < b and b "));
      assertThat(p.finish()).containsExactly(new Segment(CONTENT, "<"));
    }

    @Test
    void loneLessThanSignIsContentAtTheEnd() {
      ThinkRun r = ThinkRun.oneShot("<");

      assertThat(r.content()).isEqualTo("<");
      assertThat(r.perCall().get(0)).isEmpty();
    }

    @Test
    void textEndingInAPartialClosingTagKeepsItAsContent() {
      ThinkTagProcessor p = defaults();

      assertThat(p.feed("answer </thi")).containsExactly(new Segment(CONTENT, "answer "));
      assertThat(p.finish()).containsExactly(new Segment(CONTENT, "</thi"));
    }

    @Test
    void partialClosingTagAtTheVeryStartIsContentAtTheEnd() {
      ThinkRun r = ThinkRun.oneShot("</thi");

      assertThat(r.content()).isEqualTo("</thi");
      assertThat(r.reasoning()).isEmpty();
    }

    @Test
    void partialClosingTagAtTheEndOfAnUnclosedBlockIsReasoning() {
      ThinkRun r = ThinkRun.oneShot("<think>abc</thi");

      assertThat(r.reasoning()).isEqualTo("abc</thi");
      assertThat(r.content()).isEmpty();
    }

    @Test
    void partialOpeningTagAtTheEndIsContent() {
      ThinkRun r = ThinkRun.oneShot("\n<thin");

      assertThat(r.content()).isEqualTo("\n<thin");
    }

    @Test
    void trailingWhitespaceOfContentIsReleasedAtOnce() {
      ThinkTagProcessor p = defaults();

      assertThat(p.feed("answer \n")).containsExactly(new Segment(CONTENT, "answer \n"));
    }

    @Test
    void trailingWhitespaceOfReasoningIsHeldAndReleasedWhenMoreReasoningFollows() {
      ThinkTagProcessor p = defaults();

      assertThat(p.feed("<think>abc \n")).containsExactly(new Segment(REASONING, "abc"));
      assertThat(p.feed("def")).containsExactly(new Segment(REASONING, " \ndef"));
    }

    @Test
    void trailingWhitespaceOfAnUnclosedBlockIsDroppedAtTheEnd() {
      ThinkRun r = ThinkRun.oneShot("<think>abc \n\n");

      assertThat(r.reasoning()).isEqualTo("abc");
      assertThat(r.content()).isEmpty();
    }

    @Test
    void whitespaceOnlyTextIsContentAtTheEnd() {
      ThinkTagProcessor p = defaults();

      assertThat(p.feed("\n \n")).isEmpty();
      assertThat(p.finish()).containsExactly(new Segment(CONTENT, "\n \n"));
    }

    @Test
    void unclosedBlockAtTheEndStaysReasoning() {
      ThinkRun r = ThinkRun.oneShot("<think>I was cut off by max_tokens");

      assertThat(r.reasoning()).isEqualTo("I was cut off by max_tokens");
      assertThat(r.content()).isEmpty();
    }

    @Test
    void finishTwiceReturnsNothingTheSecondTime() {
      ThinkTagProcessor p = defaults();
      p.feed("abc <");

      assertThat(p.finish()).containsExactly(new Segment(CONTENT, "<"));
      assertThat(p.finish()).isEmpty();
    }

    @Test
    void feedAfterFinishIsRefused() {
      ThinkTagProcessor p = defaults();
      p.finish();

      assertThatThrownBy(() -> p.feed("more")).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void emptyPieceProducesNothingAndChangesNothing() {
      ThinkTagProcessor p = defaults();

      assertThat(p.feed("")).isEmpty();
      assertThat(p.feed("<think>x</think>y")).containsExactly(new Segment(REASONING, "x"), new Segment(CONTENT, "y"));
    }
  }

  @Nested
  class Position {

    @Test
    void openingTagAfterContentIsLiteralContentAndSoIsItsClosingTag() {
      ThinkRun r = ThinkRun.oneShot("Use <think>draft</think> as the example.");

      assertThat(r.reasoning()).isEmpty();
      assertThat(r.content()).isEqualTo("Use <think>draft</think> as the example.");
    }

    @Test
    void literalPairSplitAcrossPiecesStaysLiteral() {
      String text = "Use <think>draft</think> as the example.";
      for (int i = 1; i < text.length(); i++) {
        ThinkRun r = ThinkRun.of(defaults(), ThinkRun.cut(text, i));
        assertThat(r.content()).as("cut at %d", i).isEqualTo(text);
        assertThat(r.reasoning()).as("cut at %d", i).isEmpty();
      }
    }

    @Test
    void openingTagAfterAnAnswerFollowingABlockIsLiteral() {
      ThinkRun r = ThinkRun.oneShot("<think>a</think>Answer with <think>x</think>.");

      assertThat(r.reasoning()).isEqualTo("a");
      assertThat(r.content()).isEqualTo("Answer with <think>x</think>.");
    }

    @Test
    void leadingWhitespaceBeforeTheOpeningTagIsDropped() {
      ThinkRun r = ThinkRun.oneShot(" \n\n<think>a</think>b");

      assertThat(r.reasoning()).isEqualTo("a");
      assertThat(r.content()).isEqualTo("b");
    }

    @Test
    void leadingWhitespaceBeforeOrdinaryContentIsKept() {
      ThinkRun r = ThinkRun.oneShot("\n\nanswer");

      assertThat(r.content()).isEqualTo("\n\nanswer");
    }

    @Test
    void contentStartedReportsNonWhitespaceContent() {
      ThinkTagProcessor p = defaults();
      p.feed("<think>a</think>\n");
      assertThat(p.contentStarted()).isFalse();
      p.feed("b");
      assertThat(p.contentStarted()).isTrue();
    }
  }

  @Nested
  class OrphanClosingTag {

    @Test
    void orphanClosingTagIsRemovedAndTheTextBeforeItStaysContent() {
      ThinkRun r = ThinkRun.oneShot("reasoning I cannot recall</think>answer");

      assertThat(r.reasoning()).isEmpty();
      assertThat(r.content()).isEqualTo("reasoning I cannot recallanswer");
    }

    @Test
    void whitespaceAfterAnOrphanClosingTagIsDropped() {
      ThinkRun r = ThinkRun.oneShot("before</think>\n\nafter");

      assertThat(r.content()).isEqualTo("beforeafter");
    }

    @Test
    void orphanClosingTagAtTheStartIsRemoved() {
      ThinkRun r = ThinkRun.oneShot("</think>\nanswer");

      assertThat(r.content()).isEqualTo("answer");
    }

    @Test
    void secondClosingTagAfterABlockIsRemoved() {
      ThinkRun r = ThinkRun.oneShot("<think>a</think>b</think>c");

      assertThat(r.reasoning()).isEqualTo("a");
      assertThat(r.content()).isEqualTo("bc");
    }

    @Test
    void orphanClosingTagSplitAcrossPiecesIsRemoved() {
      ThinkRun r = ThinkRun.of(defaults(), "answer</th", "ink> more");

      assertThat(r.content()).isEqualTo("answermore");
    }
  }

  @Nested
  class ImplicitOpen {

    @Test
    void textBeforeTheFirstClosingTagIsReasoning() {
      ThinkRun r = ThinkRun.of(implicitOpen(), "the template opened the block</think>\n\nanswer");

      assertThat(r.reasoning()).isEqualTo("the template opened the block");
      assertThat(r.content()).isEqualTo("answer");
    }

    @Test
    void leadingExplicitOpeningTagIsStillConsumed() {
      ThinkRun r = ThinkRun.of(implicitOpen(), "\n<think>\nplan\n</think>\nanswer");

      assertThat(r.reasoning()).isEqualTo("plan");
      assertThat(r.content()).isEqualTo("answer");
    }

    @Test
    void leadingExplicitOpeningTagSplitAcrossPiecesIsConsumed() {
      ThinkRun r = ThinkRun.of(implicitOpen(), "<th", "ink>plan</think>answer");

      assertThat(r.reasoning()).isEqualTo("plan");
      assertThat(r.content()).isEqualTo("answer");
    }

    @Test
    void textWithoutAnyClosingTagStaysReasoning() {
      ThinkRun r = ThinkRun.of(implicitOpen(), "an answer that never closes");

      assertThat(r.reasoning()).isEqualTo("an answer that never closes");
      assertThat(r.content()).isEmpty();
    }

    @Test
    void startsInsideReasoning() {
      assertThat(implicitOpen().insideReasoning()).isTrue();
      assertThat(defaults().insideReasoning()).isFalse();
    }

    @Test
    void withoutImplicitOpenTheSameTextIsContentWithTheOrphanRemoved() {
      ThinkRun r = ThinkRun.oneShot("the template opened the block</think>\n\nanswer");

      assertThat(r.reasoning()).isEmpty();
      assertThat(r.content()).isEqualTo("the template opened the blockanswer");
    }

    @Test
    void openingTagLaterInTheImplicitBlockIsReasoningText() {
      ThinkRun r = ThinkRun.of(implicitOpen(), "plan <think> more</think>answer");

      assertThat(r.reasoning()).isEqualTo("plan <think> more");
      assertThat(r.content()).isEqualTo("answer");
    }
  }

  @Nested
  class Whitespace {
    private static final String TEXT = "\n\n<think>\n  plan \n</think>\n\n answer \n";

    @Test
    void reasoningIsTrimmedAndWhitespaceAroundTagsIsDropped() {
      ThinkRun r = ThinkRun.oneShot(TEXT);

      assertThat(r.reasoning()).isEqualTo("plan");
      assertThat(r.content()).isEqualTo("answer \n");
    }

    @Test
    void interiorWhitespaceOfReasoningIsKept() {
      ThinkRun r = ThinkRun.oneShot("<think>a\n\n  b</think>c");

      assertThat(r.reasoning()).isEqualTo("a\n\n  b");
    }

    @Test
    void keepWhitespaceKeepsEveryByteOutsideTheTags() {
      ThinkRun r = ThinkRun.of(keepWhitespace(), TEXT);

      assertThat(r.reasoning()).isEqualTo("\n  plan \n");
      assertThat(r.content()).isEqualTo("\n\n\n\n answer \n");
    }

    @Test
    void keepWhitespaceSegmentsInOrderAreTheTextWithoutTags() {
      ThinkRun r = ThinkRun.of(keepWhitespace(), TEXT);

      StringBuilder all = new StringBuilder();
      r.segments().forEach(s -> all.append(s.text()));
      assertThat(all.toString()).isEqualTo(TEXT.replace("<think>", "").replace("</think>", ""));
    }

    @Test
    void keepWhitespaceKeepsTrailingWhitespaceOfAnUnclosedBlock() {
      ThinkRun r = ThinkRun.of(keepWhitespace(), "<think> a \n");

      assertThat(r.reasoning()).isEqualTo(" a \n");
    }

    @ParameterizedTest(name = "whitespace char U+{0}")
    @ValueSource(strings = {"\t", "\r\n", "\u00A0", "\u2003", "\u3000"})
    void otherWhitespaceAroundTagsIsHandledLikeSpaces(String ws) {
      ThinkRun r = ThinkRun.oneShot(ws + "<think>" + ws + "x" + "</think>" + ws + "y");

      assertThat(r.reasoning()).isEqualTo("x");
      assertThat(r.content()).isEqualTo("y");
    }
  }

  @Nested
  class SeveralBlocks {

    @Test
    void twoLeadingBlocksAreJoinedWithABlankLine() {
      ThinkRun r = ThinkRun.oneShot("<think>first</think>\n<think>second</think>answer");

      assertThat(r.reasoning()).isEqualTo("first\n\nsecond");
      assertThat(r.content()).isEqualTo("answer");
    }

    @Test
    void emptyFirstBlockAddsNoSeparator() {
      ThinkRun r = ThinkRun.oneShot("<think></think><think>second</think>answer");

      assertThat(r.reasoning()).isEqualTo("second");
    }

    @Test
    void emptySecondBlockAddsNoSeparator() {
      ThinkRun r = ThinkRun.oneShot("<think>first</think><think> </think>answer");

      assertThat(r.reasoning()).isEqualTo("first");
      assertThat(r.content()).isEqualTo("answer");
    }

    @Test
    void secondBlockAfterContentIsLiteral() {
      ThinkRun r = ThinkRun.oneShot("<think>first</think>answer<think>second</think>");

      assertThat(r.reasoning()).isEqualTo("first");
      assertThat(r.content()).isEqualTo("answer<think>second</think>");
    }
  }

  @Nested
  class TagNames {

    @Test
    void tagsMatchCaseInsensitively() {
      ThinkRun r = ThinkRun.oneShot("<THINK>a</Think>b");

      assertThat(r.reasoning()).isEqualTo("a");
      assertThat(r.content()).isEqualTo("b");
    }

    @Test
    void upperCaseTagSplitAcrossPiecesIsRecognised() {
      ThinkRun r = ThinkRun.of(defaults(), "<TH", "INK>a</THI", "NK>b");

      assertThat(r.reasoning()).isEqualTo("a");
      assertThat(r.content()).isEqualTo("b");
    }

    @Test
    void explicitNonXmlPairIsRecognised() {
      ThinkTagProcessor p = ThinkTagProcessor.builder().tags(List.of(ThinkTag.parse("◁think▷|◁/think▷"))).build();

      ThinkRun r = ThinkRun.of(p, "◁thi", "nk▷plan◁/thin", "k▷answer");

      assertThat(r.reasoning()).isEqualTo("plan");
      assertThat(r.content()).isEqualTo("answer");
    }

    @Test
    void defaultTagIsNotRecognisedWhenOnlyAnExplicitPairIsConfigured() {
      ThinkTagProcessor p = ThinkTagProcessor.builder().tags(List.of(ThinkTag.parse("[THINK]|[/THINK]"))).build();

      ThinkRun r = ThinkRun.of(p, "<think>x</think>[THINK]y[/THINK]z");

      assertThat(r.reasoning()).isEmpty();
      assertThat(r.content()).isEqualTo("<think>x</think>[THINK]y[/THINK]z");
    }

    @Test
    void secondConfiguredNameIsRecognised() {
      ThinkTagProcessor p = ThinkTagProcessor.builder()
          .tags(List.of(ThinkTag.named("think"), ThinkTag.named("thinking"))).build();

      ThinkRun r = ThinkRun.of(p, "<thinking>plan</thinking>answer");

      assertThat(r.reasoning()).isEqualTo("plan");
      assertThat(r.content()).isEqualTo("answer");
    }

    @Test
    void onlyTheMatchingClosingTagEndsABlock() {
      ThinkTagProcessor p = ThinkTagProcessor.builder()
          .tags(List.of(ThinkTag.named("think"), ThinkTag.named("thinking"))).build();

      ThinkRun r = ThinkRun.of(p, "<thinking>x</think>y</thinking>z");

      assertThat(r.reasoning()).isEqualTo("x</think>y");
      assertThat(r.content()).isEqualTo("z");
    }
  }

  @Nested
  class Anywhere {

    @Test
    void blockAfterContentIsExtracted() {
      ThinkRun r = ThinkRun.of(anywhere(), "Answer: <think>check</think> done");

      assertThat(r.reasoning()).isEqualTo("check");
      assertThat(r.content()).isEqualTo("Answer: done");
    }

    @Test
    void everyBlockIsExtractedAndJoined() {
      ThinkRun r = ThinkRun.of(anywhere(), "<think>a</think>x<think>b</think>y");

      assertThat(r.reasoning()).isEqualTo("a\n\nb");
      assertThat(r.content()).isEqualTo("xy");
    }

    @Test
    void openingTagSplitAfterContentIsExtracted() {
      ThinkRun r = ThinkRun.of(anywhere(), "x <thi", "nk>b</th", "ink>y");

      assertThat(r.reasoning()).isEqualTo("b");
      assertThat(r.content()).isEqualTo("x y");
    }

    @Test
    void orphanClosingTagIsStillRemoved() {
      ThinkRun r = ThinkRun.of(anywhere(), "x</think>y");

      assertThat(r.content()).isEqualTo("xy");
    }
  }

  @Nested
  class SurrogatePairs {
    private static final String EMOJI = "\uD83D\uDE00"; // 😀

    @Test
    void emojiSplitBetweenPiecesInContentIsNeverSeparated() {
      ThinkTagProcessor p = defaults();

      assertThat(p.feed("a" + EMOJI.charAt(0))).containsExactly(new Segment(CONTENT, "a"));
      assertThat(p.feed(EMOJI.charAt(1) + "b")).containsExactly(new Segment(CONTENT, EMOJI + "b"));
    }

    @Test
    void emojiSplitBetweenPiecesInReasoningIsNeverSeparated() {
      ThinkTagProcessor p = defaults();

      assertThat(p.feed("<think>a" + EMOJI.charAt(0))).containsExactly(new Segment(REASONING, "a"));
      assertThat(p.feed(EMOJI.charAt(1) + "b")).containsExactly(new Segment(REASONING, EMOJI + "b"));
    }

    @Test
    void emojiSplitAtTheVeryStartIsNeverSeparated() {
      ThinkTagProcessor p = defaults();

      assertThat(p.feed(String.valueOf(EMOJI.charAt(0)))).isEmpty();
      assertThat(p.feed(EMOJI.charAt(1) + "<think>")).containsExactly(new Segment(CONTENT, EMOJI + "<think>"));
    }

    @Test
    void emojiSplitInAnywhereModeIsNeverSeparated() {
      ThinkTagProcessor p = anywhere();

      assertThat(p.feed("x" + EMOJI.charAt(0))).containsExactly(new Segment(CONTENT, "x"));
      assertThat(p.feed(EMOJI.charAt(1) + "")).containsExactly(new Segment(CONTENT, EMOJI));
    }

    @Test
    void emojiInsideBlockAroundTagsSurvivesEveryCut() {
      String text = EMOJI + "<think>" + EMOJI + "</think>" + EMOJI;
      for (int i = 1; i < text.length(); i++) {
        ThinkRun r = ThinkRun.of(defaults(), ThinkRun.cut(text, i));
        assertThat(r.content()).as("cut %d", i).isEqualTo(text);
        for (Segment s : r.segments()) {
          assertThat(Character.isLowSurrogate(s.text().charAt(0))).as("cut %d: %s", i, s).isFalse();
          assertThat(Character.isHighSurrogate(s.text().charAt(s.text().length() - 1))).as("cut %d", i).isFalse();
        }
      }
    }
  }

  static Stream<Arguments> specCases() {
    // think-spec §c.12 cases, one-shot result.
    return Stream.of(
        Arguments.of("<think>a</think>b", "a", "b"),
        Arguments.of("no tags", "", "no tags"),
        Arguments.of("</think>prefill", "", "prefill"),
        Arguments.of("<think></think>", "", ""),
        Arguments.of("<think>a</think><think>b</think>c", "a\n\nb", "c"),
        Arguments.of("x <think>y</think>", "", "x <think>y</think>"),
        Arguments.of("<think>unclosed", "unclosed", ""),
        Arguments.of("ends in <", "", "ends in <"),
        Arguments.of("ends in </thi", "", "ends in </thi"),
        Arguments.of("ends in \n", "", "ends in \n"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("specCases")
  void specCaseGivesTheExpectedReasoningAndContent(String text, String reasoning, String content) {
    ThinkRun r = ThinkRun.oneShot(text);

    assertThat(r.reasoning()).isEqualTo(reasoning);
    assertThat(r.content()).isEqualTo(content);
  }
}
