package dev.thinkproxy;

import static dev.thinkproxy.Chunks.stream;
import static dev.thinkproxy.LegacyChunks.chunk;
import static dev.thinkproxy.LegacyChunks.choice;
import static dev.thinkproxy.LegacyChunks.finish;
import static dev.thinkproxy.LegacyChunks.text;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The legacy completions endpoint ({@code choices[].text}): the same think processing as chat, with the reasoning
 * field beside {@code text} in the choice, streaming and non-streaming.
 */
class LegacyCompletionsTest {

  private static final ThinkOptions DEFAULTS = ThinkOptions.defaults();

  /** A think-then-answer stream cut inside both tags, finished, then {@code [DONE]}. */
  private static final String THINK_STREAM = stream(text("<thi"), text("nk>\nplan"), text(" more</th"),
      text("ink>\n\nThe answer"), text(" is 42."), finish(0, "length"), "[DONE]");

  private static byte[] split(String upstream) {
    return LegacyChunks.run(DEFAULTS, ThinkMode.SPLIT, false, upstream);
  }

  private static ObjectNode withReasoning(ObjectNode choice, String field, String reasoning) {
    return choice.put(field, reasoning);
  }

  @Nested
  class Streaming {

    @Test
    void leadingBlockMovesToReasoningContentBesideText() {
      byte[] out = split(THINK_STREAM);

      assertThat(LegacyChunks.clientText(out)).isEqualTo(Map.of(0, new Sse.Text("plan more", "The answer is 42.")));
      assertThat(Sse.str(out)).doesNotContain("think>").doesNotContain("\"delta\"");
      for (JsonNode c : LegacyChunks.choices(out)) {
        assertThat(c.get("text").isTextual()).as("every choice keeps a text string: %s", c).isTrue();
        assertThat(c.has("logprobs")).as("and its logprobs: %s", c).isTrue();
      }
      assertThat(Sse.jsonEvents(Sse.parse(out))).allSatisfy(e -> {
        assertThat(e.path("object").asText()).isEqualTo("text_completion");
        assertThat(e.path("id").asText()).isEqualTo(LegacyChunks.ID);
        assertThat(e.path("model").asText()).isEqualTo(LegacyChunks.MODEL);
      });
      assertThat(Sse.parse(out).get(Sse.parse(out).size() - 1).isDone()).isTrue();
    }

    @Test
    void eventWithoutTagsIsForwardedByteForByte() {
      String upstream = stream(text("plain"), text(" answer"), finish(0, "stop"), "[DONE]");

      assertThat(Sse.str(split(upstream))).isEqualTo(upstream);
    }

    @Test
    void configuredReasoningFieldIsUsed() {
      ThinkOptions options = ThinkOptions.builder().reasoningField("reasoning").build();

      byte[] out = LegacyChunks.run(options, ThinkMode.SPLIT, false, THINK_STREAM);

      assertThat(LegacyChunks.clientText(out, "reasoning").get(0)).isEqualTo(new Sse.Text("plan more",
          "The answer is 42."));
      assertThat(Sse.str(out)).doesNotContain("reasoning_content");
    }

    @Test
    void oneEventWithReasoningAndTextBecomesTwoReasoningFirst() {
      ObjectNode c = choice(0, "<think>a</think>b", "stop");
      c.putObject("logprobs").putArray("tokens").add("<think>");
      c.putNull("stop_reason");

      List<JsonNode> out = LegacyChunks.choices(split(stream(chunk(c))));

      assertThat(out).hasSize(2);
      assertThat(out.get(0).path("reasoning_content").asText()).isEqualTo("a");
      assertThat(out.get(0).path("text").asText()).isEmpty();
      assertThat(out.get(0).at("/logprobs/tokens/0").asText()).as("logprobs ride on the first").isEqualTo("<think>");
      assertThat(out.get(0).path("finish_reason").isNull()).isTrue();
      assertThat(out.get(1).path("text").asText()).isEqualTo("b");
      assertThat(out.get(1).path("logprobs").isNull()).isTrue();
      assertThat(out.get(1).path("finish_reason").asText()).as("the finish rides on the last").isEqualTo("stop");
      assertThat(out).allSatisfy(o -> assertThat(o.has("stop_reason")).as("unknown fields ride along").isTrue());
    }

    @ParameterizedTest
    @ValueSource(strings = {"finish", "[DONE]", "end of stream"})
    void heldTextIsReleasedAtTheEnd(String end) {
      String tail = switch (end) {
        case "finish" -> stream(finish(0, "length"));
        case "[DONE]" -> stream("[DONE]");
        default -> "";
      };

      byte[] out = split(stream(text("<think>plan</thi")) + tail);

      assertThat(LegacyChunks.clientText(out).get(0)).isEqualTo(new Sse.Text("plan</thi", ""));
      JsonNode last = LegacyChunks.choices(out).get(LegacyChunks.choices(out).size() - 1);
      assertThat(last.path("text").isTextual()).as("a made-up event is a legacy choice too: %s", last).isTrue();
      assertThat(last.has("logprobs")).isTrue();
    }

    @Test
    void eachChoiceHasItsOwnState() {
      byte[] out = split(stream(chunk(choice(0, "<think>a", null), choice(1, "plain <think>", null)),
          text(1, "x</think>"), text(0, "</think>b"), finish(0, "stop"), finish(1, "stop")));

      assertThat(LegacyChunks.clientText(out)).isEqualTo(Map.of(0, new Sse.Text("a", "b"),
          1, new Sse.Text("", "plain <think>x</think>")));
    }

    @Test
    void implicitOpenStartsInsideReasoning() {
      byte[] out = LegacyChunks.run(DEFAULTS, ThinkMode.SPLIT, true,
          stream(text("step 1"), text("</think>\n\nAnswer")));

      assertThat(LegacyChunks.clientText(out).get(0)).isEqualTo(new Sse.Text("step 1", "Answer"));
    }

    @Test
    void thinkAnywhereExtractsLaterBlocks() {
      ThinkOptions options = ThinkOptions.builder().anywhere(true).build();

      byte[] out = LegacyChunks.run(options, ThinkMode.SPLIT, false, stream(text("a <think>x</thi"), text("nk>b")));

      assertThat(LegacyChunks.clientText(out).get(0)).isEqualTo(new Sse.Text("x", "a b"));
    }

    @Test
    void configuredTagsAndKeptWhitespaceApply() {
      ThinkOptions options = ThinkOptions.builder().tags("thinking").keepWhitespace(true).build();

      byte[] out = LegacyChunks.run(options, ThinkMode.SPLIT, false, stream(text("<thinking> x </thinking>"),
          text(" y")));

      assertThat(LegacyChunks.clientText(out).get(0)).isEqualTo(new Sse.Text(" x ", " y"));
    }

    @Test
    void providersReasoningFieldOnTheChoiceIsKeptAndEndsTagParsing() {
      byte[] out = split(stream(chunk(withReasoning(choice(0, "", null), "reasoning", "r")), text("<think>x</think>")));

      assertThat(LegacyChunks.clientText(out).get(0)).isEqualTo(new Sse.Text("r", "<think>x</think>"));
      assertThat(Sse.str(out)).doesNotContain("\"reasoning\"");
    }

    @Test
    void stripRemovesReasoningAndKeepsSplitsText() {
      byte[] out = LegacyChunks.run(DEFAULTS, ThinkMode.STRIP, false, THINK_STREAM);

      assertThat(LegacyChunks.clientText(out).get(0)).isEqualTo(new Sse.Text("", "The answer is 42."));
      assertThat(Sse.str(out)).doesNotContain("reasoning").doesNotContain("plan");
    }

    @Test
    void wrapTurnsTheProvidersReasoningIntoALeadingBlockInText() {
      String upstream = stream(chunk(withReasoning(choice(0, "", null), "reasoning_content", "a")),
          chunk(withReasoning(choice(0, "", null), "reasoning", "b")), text("answer"), finish(0, "stop"));

      byte[] out = LegacyChunks.run(DEFAULTS, ThinkMode.WRAP, false, upstream);

      assertThat(LegacyChunks.clientText(out).get(0)).isEqualTo(new Sse.Text("", "<think>\nab\n</think>\n\nanswer"));
      assertThat(Sse.str(out)).doesNotContain("\"reasoning");
    }

    @Test
    void wrapClosesTheBlockAtTheFinish() {
      byte[] out = LegacyChunks.run(DEFAULTS, ThinkMode.WRAP, false,
          stream(chunk(withReasoning(choice(0, "", "length"), "reasoning_content", "a"))));

      List<JsonNode> choices = LegacyChunks.choices(out);
      assertThat(LegacyChunks.clientText(out).get(0).content()).isEqualTo("<think>\na\n</think>\n\n");
      assertThat(choices.get(choices.size() - 1).path("finish_reason").asText()).isEqualTo("length");
    }

    @Test
    void wrapLeavesInlineTagsAsTheyCame() {
      String upstream = stream(text("<think>a</think>b"));

      assertThat(Sse.str(LegacyChunks.run(DEFAULTS, ThinkMode.WRAP, false, upstream))).isEqualTo(upstream);
    }

    @Test
    void offModeChangesNothing() {
      assertThat(Sse.str(LegacyChunks.run(DEFAULTS, ThinkMode.OFF, false, THINK_STREAM))).isEqualTo(THINK_STREAM);
    }
  }

  @Nested
  class NonStreaming {

    @Test
    void leadingBlockMovesToReasoningContentBesideText() {
      ObjectNode body = LegacyChunks.body("<think>\nplan\n</think>\n\nanswer");

      assertThat(LegacyChunks.rewrite(body, DEFAULTS, ThinkMode.SPLIT, false)).isTrue();

      assertThat(LegacyChunks.bodyText(body, "reasoning_content")).isEqualTo(new Sse.Text("plan", "answer"));
      assertThat(body.at("/choices/0").has("message")).isFalse();
      assertThat(body.at("/choices/0/finish_reason").asText()).isEqualTo("stop");
    }

    @Test
    void bodyWithoutTagsIsReportedUnchanged() {
      ObjectNode body = LegacyChunks.body("plain answer");
      ObjectNode before = body.deepCopy();

      assertThat(LegacyChunks.rewrite(body, DEFAULTS, ThinkMode.SPLIT, false)).isFalse();
      assertThat(body).isEqualTo(before);
    }

    @Test
    void everyChoiceIsRewritten() {
      ObjectNode body = LegacyChunks.body("<think>a</think>b", "<think>c</think>d");

      LegacyChunks.rewrite(body, DEFAULTS, ThinkMode.SPLIT, false);

      assertThat(body.at("/choices/1/reasoning_content").asText()).isEqualTo("c");
      assertThat(body.at("/choices/1/text").asText()).isEqualTo("d");
    }

    @Test
    void implicitOpenMovesTextBeforeTheClosingTag() {
      ObjectNode body = LegacyChunks.body("prefilled</think>\n\nanswer");

      LegacyChunks.rewrite(body, DEFAULTS, ThinkMode.SPLIT, true);

      assertThat(LegacyChunks.bodyText(body, "reasoning_content")).isEqualTo(new Sse.Text("prefilled", "answer"));
    }

    @Test
    void stripRemovesTheBlockAndAddsNoField() {
      ObjectNode body = LegacyChunks.body("<think>plan</think>answer");

      LegacyChunks.rewrite(body, DEFAULTS, ThinkMode.STRIP, false);

      assertThat(body.at("/choices/0/text").asText()).isEqualTo("answer");
      assertThat(body.at("/choices/0").has("reasoning_content")).isFalse();
    }

    @Test
    void wrapTurnsTheProvidersReasoningIntoALeadingBlock() {
      ObjectNode body = LegacyChunks.body("answer");
      ((ObjectNode) body.at("/choices/0")).put("reasoning", "r");

      assertThat(LegacyChunks.rewrite(body, DEFAULTS, ThinkMode.WRAP, false)).isTrue();

      assertThat(body.at("/choices/0/text").asText()).isEqualTo("<think>\nr\n</think>\n\nanswer");
      assertThat(body.at("/choices/0").has("reasoning")).isFalse();
    }

    @ParameterizedTest
    @EnumSource(value = ThinkMode.class, names = {"WRAP", "OFF"})
    void wrapAndOffLeaveInlineTagsAsTheyCame(ThinkMode mode) {
      ObjectNode body = LegacyChunks.body("<think>a</think>b");
      ObjectNode before = body.deepCopy();

      assertThat(LegacyChunks.rewrite(body, DEFAULTS, mode, false)).isFalse();
      assertThat(body).isEqualTo(before);
    }

    @ParameterizedTest
    @EnumSource(value = ThinkMode.class, names = {"SPLIT", "STRIP"})
    void streamingAndNonStreamingGiveTheSameStrings(ThinkMode mode) {
      String whole = "\n<think>\nLet me see </thi< x\n\n</think>\n\nThe <think>literal</think> answer </think>\n";
      ObjectNode body = LegacyChunks.body(whole);
      LegacyChunks.rewrite(body, DEFAULTS, mode, false);

      byte[] out = LegacyChunks.run(DEFAULTS, mode, false, stream(text(whole.substring(0, 5)),
          text(whole.substring(5, 31)), text(whole.substring(31)), finish(0, "stop")));

      assertThat(LegacyChunks.clientText(out).get(0)).isEqualTo(LegacyChunks.bodyText(body, "reasoning_content"));
    }
  }
}
