package dev.thinkproxy;

import static dev.thinkproxy.Chunks.choice;
import static dev.thinkproxy.Chunks.chunk;
import static dev.thinkproxy.Chunks.content;
import static dev.thinkproxy.Chunks.contentDelta;
import static dev.thinkproxy.Chunks.delta;
import static dev.thinkproxy.Chunks.finish;
import static dev.thinkproxy.Chunks.role;
import static dev.thinkproxy.Chunks.stream;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The JSON envelope of rewritten chunks ({@link ChunkRewriter}) and of non-streaming bodies ({@link JsonRewriter}). */
class ChunkRewriterTest {

  private static ObjectNode parse(String json) {
    try {
      return (ObjectNode) Sse.MAPPER.readTree(json);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static final ChunkScanner SCANNER = new ChunkScanner(Sse.MAPPER, Endpoint.CHAT_COMPLETIONS);

  private static ChunkScanner.Chunk scan(String json) {
    byte[] bytes = json.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    return SCANNER.scan(bytes, 0, bytes.length);
  }

  private static ChunkScanner.Chunk scan(ObjectNode chunk) {
    return scan(chunk.toString());
  }

  /** The rewriter's output for one event, parsed back into trees; null when the event is forwarded as it came. */
  private static List<ObjectNode> rewrite(ChunkRewriter r, Object chunk) {
    List<byte[]> out = r.rewrite(chunk instanceof ObjectNode ? scan((ObjectNode) chunk) : scan((String) chunk));
    return out == null ? null : trees(out);
  }

  private static List<ObjectNode> trees(List<byte[]> payloads) {
    return payloads.stream().map(p -> parse(new String(p, java.nio.charset.StandardCharsets.UTF_8))).toList();
  }

  private static ChunkRewriter split() {
    return new ChunkRewriter(ThinkOptions.defaults(), ThinkMode.SPLIT, false, Sse.MAPPER);
  }

  private static byte[] run(ThinkOptions options, ThinkMode mode, String upstream) {
    return Sse.run(Sse.rewriter(options, mode, false), Sse.bytes(upstream));
  }

  private static byte[] split(String upstream) {
    return run(ThinkOptions.defaults(), ThinkMode.SPLIT, upstream);
  }

  private static ObjectNode nativeDelta(String field, String text) {
    return delta().put(field, text);
  }

  @Nested
  class UnchangedEvents {

    @Test
    void eventWithPlainContentIsLeftForByteForByteForwarding() {
      assertThat(rewrite(split(), content("plain answer"))).isNull();
    }

    @Test
    void eventWithoutChoicesIsLeftAlone() {
      assertThat(rewrite(split(), "{\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"usage\":{}}")).isNull();
    }

    @Test
    void usageOnlyEventWithEmptyChoicesIsLeftAlone() {
      assertThat(rewrite(split(), "{\"id\":\"x\",\"choices\":[],\"usage\":{\"total_tokens\":3}}")).isNull();
    }

    @Test
    void eventWithOnlyAToolCallIsLeftAlone() {
      ObjectNode d = delta();
      d.putArray("tool_calls").addObject().put("index", 0).put("id", "call_1");
      assertThat(rewrite(split(), chunk(choice(0, d, null)))).isNull();
    }

    @Test
    void eventWithAnUnknownContentPartTypeIsLeftAlone() {
      ObjectNode d = delta();
      d.putArray("content").addObject().put("type", "image_url").put("image_url", "x");
      assertThat(rewrite(split(), chunk(choice(0, d, null)))).isNull();
    }

    @Test
    void eventWithHeldTextIsReplacedByNothing() {
      assertThat(rewrite(split(), content("<thi"))).isEmpty();
    }
  }

  @Nested
  class NativeReasoning {

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"reasoning_content", "reasoning"})
    void nativeReasoningFieldArrivesAsReasoningContent(String upstreamField) {
      byte[] out = split(stream(chunk(choice(0, nativeDelta(upstreamField, "think"), null)), content("answer")));

      assertThat(Sse.clientText(out).get(0)).isEqualTo(new Sse.Text("think", "answer"));
      assertThat(Sse.str(out)).doesNotContain("\"reasoning\"");
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"reasoning_content", "reasoning"})
    void configuredFieldReasoningIsTheOnlyFieldWritten(String upstreamField) {
      ThinkOptions options = ThinkOptions.builder().reasoningField("reasoning").build();
      byte[] out = run(options, ThinkMode.SPLIT, stream(chunk(choice(0, nativeDelta(upstreamField, "a"), null)),
          content("<think>b</think>c")));

      assertThat(Sse.clientText(out, "reasoning").get(0).reasoning()).isEqualTo("a");
      assertThat(Sse.str(out)).doesNotContain("\"reasoning_content\"");
    }

    @Test
    void bothFieldsWithTheSameTextCountOnce() {
      ObjectNode d = delta().put("reasoning_content", "same").put("reasoning", "same");
      byte[] out = split(stream(chunk(choice(0, d, null))));

      assertThat(Sse.clientText(out).get(0).reasoning()).isEqualTo("same");
    }

    @Test
    void bothFieldsWithDifferentTextAreJoinedReasoningContentFirst() {
      ObjectNode d = delta().put("reasoning", "two").put("reasoning_content", "one ");
      byte[] out = split(stream(chunk(choice(0, d, null))));

      assertThat(Sse.clientText(out).get(0).reasoning()).isEqualTo("one two");
    }

    @Test
    void contentAfterNativeReasoningIsNotTagParsed() {
      byte[] out = split(stream(chunk(choice(0, nativeDelta("reasoning_content", "r"), null)),
          content("Use <think>x</think> literally"), content("</think> too")));

      assertThat(Sse.clientText(out).get(0)).isEqualTo(new Sse.Text("r", "Use <think>x</think> literally</think> too"));
    }

    @Test
    void heldTagTextIsReleasedWhenNativeReasoningStarts() {
      byte[] out = split(stream(content("<"), chunk(choice(0, nativeDelta("reasoning_content", "r"), null))));

      assertThat(Sse.clientText(out).get(0)).isEqualTo(new Sse.Text("r", "<"));
    }

    @Test
    void nativeReasoningInTheConfiguredFieldIsForwardedUnchanged() {
      ObjectNode d = delta().put("reasoning_content", "r");
      d.putNull("content");
      assertThat(rewrite(split(), chunk(choice(0, d, null)))).isNull();
    }

    @Test
    void nullReasoningKeyOfTheOtherNameIsDroppedAndNullContentKept() {
      ObjectNode d = delta().put("reasoning", "r");
      d.putNull("content");
      d.putNull("reasoning_content");
      List<ObjectNode> out = rewrite(split(), chunk(choice(0, d, null)));

      assertThat(out).hasSize(1);
      JsonNode delta = out.get(0).at("/choices/0/delta");
      assertThat(delta.get("content").isNull()).isTrue();
      assertThat(delta.get("reasoning_content").asText()).isEqualTo("r");
      assertThat(delta.has("reasoning")).isFalse();
    }
  }

  @Nested
  class Placement {

    @Test
    void logprobsStayOnTheFirstEventDerivedFromTheirEvent() {
      ObjectNode c = choice(0, contentDelta("<think>a</think>b"), null);
      c.putObject("logprobs").putArray("content").addObject().put("token", "<think>");
      List<ObjectNode> out = rewrite(split(), chunk(c));

      assertThat(out).hasSize(2);
      assertThat(out.get(0).at("/choices/0/logprobs/content/0/token").asText()).isEqualTo("<think>");
      assertThat(out.get(1).at("/choices/0/logprobs").isNull()).isTrue();
    }

    @Test
    void finishReasonIsOnTheLastEventOnly() {
      List<ObjectNode> out = rewrite(split(), chunk(choice(0, contentDelta("<think>a</think>b"), "stop")));

      assertThat(out).hasSize(2);
      assertThat(out.get(0).at("/choices/0/finish_reason").isNull()).isTrue();
      assertThat(out.get(1).at("/choices/0/finish_reason").asText()).isEqualTo("stop");
    }

    @Test
    void usageAndUnknownTopLevelFieldsAreOnTheLastEventOnly() {
      ObjectNode chunk = parse(chunk(choice(0, contentDelta("<think>a</think>b"), "stop")));
      chunk.putObject("usage").put("total_tokens", 9);
      chunk.putObject("x_groq").put("id", "req_1");
      List<ObjectNode> out = rewrite(split(), chunk);

      assertThat(out.get(0).has("usage")).isFalse();
      assertThat(out.get(0).has("x_groq")).isFalse();
      assertThat(out.get(1).path("usage").path("total_tokens").asInt()).isEqualTo(9);
      assertThat(out.get(1).path("x_groq").path("id").asText()).isEqualTo("req_1");
    }

    @Test
    void usageIsKeptWhenAllTextOfItsEventIsHeldBack() {
      ObjectNode chunk = parse(content("<thi"));
      chunk.putObject("usage").put("total_tokens", 9);
      List<ObjectNode> out = rewrite(split(), chunk);

      assertThat(out).hasSize(1);
      assertThat(out.get(0).path("usage").path("total_tokens").asInt()).isEqualTo(9);
    }

    @Test
    void unknownChoiceFieldsRideAlong() {
      ObjectNode c = choice(0, contentDelta("<think>a</think>b"), null);
      c.putObject("content_filter_results").put("hate", "safe");
      List<ObjectNode> out = rewrite(split(), chunk(c));

      assertThat(out).allSatisfy(e -> assertThat(e.at("/choices/0/content_filter_results/hate").asText())
          .isEqualTo("safe"));
    }

    @Test
    void choiceWithoutIndexIsKeyedByItsPosition() {
      ObjectNode d0 = contentDelta("<think>a");
      ObjectNode d1 = contentDelta("plain");
      ObjectNode chunk = parse(chunk(choice(0, d0, null), choice(1, d1, null)));
      ((ObjectNode) chunk.get("choices").get(0)).remove("index");
      ((ObjectNode) chunk.get("choices").get(1)).remove("index");
      ChunkRewriter r = split();
      List<ObjectNode> first = rewrite(r, chunk);

      assertThat(first).extracting(e -> e.at("/choices/0/delta/reasoning_content").asText("")).contains("a");
      List<ObjectNode> next = rewrite(r, content(0, " more</think>x"));
      assertThat(next).extracting(e -> e.at("/choices/0/delta/reasoning_content").asText("")).contains(" more");
    }

    @Test
    void finishWithoutDeltaStillReleasesHeldText() {
      ObjectNode c = Sse.MAPPER.createObjectNode().put("index", 0).put("finish_reason", "stop");
      byte[] out = split(stream(content("answer <"), chunk(c)));

      assertThat(Sse.clientText(out).get(0).content()).isEqualTo("answer <");
    }

    @Test
    void flushAllUsesTheEnvelopeOfTheLastEvent() {
      ChunkRewriter r = split();
      rewrite(r, content("<think>abc"));
      assertThat(rewrite(r, content(" def </thi"))).extracting(e -> e.at("/choices/0/delta/reasoning_content")
          .asText()).containsExactly(" def");
      List<ObjectNode> out = trees(r.flushAll());

      assertThat(out).hasSize(1);
      assertThat(out.get(0).path("id").asText()).isEqualTo(Chunks.ID);
      assertThat(out.get(0).path("model").asText()).isEqualTo(Chunks.MODEL);
      assertThat(out.get(0).at("/choices/0/delta/reasoning_content").asText()).isEqualTo(" </thi");
      assertThat(r.flushAll()).as("a second flush has nothing left").isEmpty();
    }
  }

  @Nested
  class ImplicitOpen {

    @Test
    void answerStartsInsideReasoning() {
      byte[] out = Sse.run(Sse.rewriter(ThinkOptions.defaults(), ThinkMode.SPLIT, true),
          Sse.bytes(stream(content("step 1"), content(", step 2</think>\n\nAnswer"), finish(0, "stop"))));

      assertThat(Sse.clientText(out).get(0)).isEqualTo(new Sse.Text("step 1, step 2", "Answer"));
    }

    @Test
    void eachChoiceStartsInsideReasoning() {
      byte[] out = Sse.run(Sse.rewriter(ThinkOptions.defaults(), ThinkMode.SPLIT, true),
          Sse.bytes(stream(content(0, "a</think>b"), content(1, "c</think>d"))));

      assertThat(Sse.clientText(out)).isEqualTo(Map.of(0, new Sse.Text("a", "b"), 1, new Sse.Text("c", "d")));
    }
  }

  @Nested
  class Strip {

    @Test
    void stripModeContentEqualsSplitModeContent() {
      String upstream = stream(role(0), content("\n<think>plan"), content("</think>\n\nAnswer </thi"),
          content("nk> <think>x</think>"), finish(0, "stop"), "[DONE]");

      Sse.Text split = Sse.clientText(split(upstream)).get(0);
      Sse.Text strip = Sse.clientText(run(ThinkOptions.defaults(), ThinkMode.STRIP, upstream)).get(0);

      assertThat(strip).isEqualTo(new Sse.Text("", split.content()));
    }

    @ParameterizedTest
    @ValueSource(strings = {"[DONE]", "end of stream", "finish without delta"})
    void heldReasoningReleasedAtTheEndIsStrippedToo(String end) {
      ObjectNode finishWithoutDelta = choice(0, null, "stop");
      finishWithoutDelta.remove("delta");
      String tail = switch (end) {
        case "[DONE]" -> stream("[DONE]");
        case "finish without delta" -> stream(chunk(finishWithoutDelta));
        default -> "";
      };

      byte[] out = run(ThinkOptions.defaults(), ThinkMode.STRIP,
          stream(content("<think>plan </thi")) + tail);

      assertThat(Sse.str(out)).doesNotContain("reasoning_content").doesNotContain("plan").doesNotContain("</thi");
    }

    @Test
    void stripModeRemovesNativeReasoning() {
      byte[] out = run(ThinkOptions.defaults(), ThinkMode.STRIP,
          stream(chunk(choice(0, nativeDelta("reasoning", "r"), null)), content("c")));

      assertThat(Sse.str(out)).doesNotContain("\"reasoning\"").doesNotContain("reasoning_content");
      assertThat(Sse.clientText(out).get(0).content()).isEqualTo("c");
    }
  }

  @Nested
  class Wrap {
    private byte[] wrap(String upstream) {
      return run(ThinkOptions.defaults(), ThinkMode.WRAP, upstream);
    }

    @Test
    void nativeReasoningBecomesALeadingThinkBlockInContent() {
      byte[] out = wrap(stream(role(0), chunk(choice(0, nativeDelta("reasoning_content", "a"), null)),
          chunk(choice(0, nativeDelta("reasoning", "b"), null)), content("answer"), finish(0, "stop")));

      assertThat(Sse.clientText(out).get(0)).isEqualTo(new Sse.Text("", "<think>\nab\n</think>\n\nanswer"));
      assertThat(Sse.str(out)).doesNotContain("\"reasoning");
    }

    @Test
    void blockIsClosedAtTheFinish() {
      byte[] out = wrap(stream(chunk(choice(0, nativeDelta("reasoning_content", "a"), null)), finish(0, "length")));

      assertThat(Sse.clientText(out).get(0).content()).isEqualTo("<think>\na\n</think>\n\n");
      List<JsonNode> chunks = Sse.jsonEvents(Sse.parse(out));
      assertThat(chunks.get(chunks.size() - 1).at("/choices/0/finish_reason").asText()).isEqualTo("length");
    }

    @Test
    void blockIsClosedBeforeToolCalls() {
      ObjectNode d = delta();
      d.putArray("tool_calls").addObject().put("index", 0).put("id", "call_1");
      byte[] out = wrap(stream(chunk(choice(0, nativeDelta("reasoning_content", "a"), null)), chunk(choice(0, d,
          null))));

      List<JsonNode> chunks = Sse.jsonEvents(Sse.parse(out));
      JsonNode withTools = chunks.stream().filter(c -> c.at("/choices/0/delta").has("tool_calls")).findFirst()
          .orElseThrow();
      StringBuilder before = new StringBuilder();
      for (JsonNode c : chunks) {
        if (c == withTools) {
          break;
        }
        before.append(c.at("/choices/0/delta/content").asText(""));
      }
      assertThat(before.toString()).isEqualTo("<think>\na\n</think>\n\n");
    }

    @Test
    void roleRidesOnTheFirstEventWhenTheSameEventClosesTheBlock() {
      ObjectNode d = delta().put("role", "assistant").put("reasoning_content", "r");
      byte[] out = wrap(stream(chunk(choice(0, d, "stop"))));

      List<JsonNode> chunks = Sse.jsonEvents(Sse.parse(out));
      assertThat(chunks.get(0).at("/choices/0/delta/role").asText()).isEqualTo("assistant");
      assertThat(chunks.subList(1, chunks.size())).allSatisfy(c -> assertThat(c.at("/choices/0/delta").has("role"))
          .isFalse());
      assertThat(chunks.get(chunks.size() - 1).at("/choices/0/finish_reason").asText()).isEqualTo("stop");
      assertThat(Sse.clientText(out).get(0).content()).isEqualTo("<think>\nr\n</think>\n\n");
    }

    @Test
    void toolCallsComeAfterTheClosingTagWhenTheSameEventClosesTheBlock() {
      ObjectNode d = delta().put("role", "assistant").put("reasoning_content", "r");
      d.putArray("tool_calls").addObject().put("index", 0).put("id", "call_1");
      List<JsonNode> chunks = Sse.jsonEvents(Sse.parse(wrap(stream(chunk(choice(0, d, null))))));

      JsonNode last = chunks.get(chunks.size() - 1);
      assertThat(last.at("/choices/0/delta/tool_calls/0/id").asText()).isEqualTo("call_1");
      assertThat(chunks.subList(0, chunks.size() - 1)).allSatisfy(c -> assertThat(c.at("/choices/0/delta")
          .has("tool_calls")).isFalse());
    }

    @Test
    void blockIsClosedAtTheEndOfAStreamWithoutFinish() {
      byte[] out = wrap(stream(chunk(choice(0, nativeDelta("reasoning_content", "a"), null))));

      assertThat(Sse.clientText(out).get(0).content()).isEqualTo("<think>\na\n</think>\n\n");
    }

    @Test
    void inlineTagsWithoutANativeFieldPassThrough() {
      String upstream = stream(content("<think>a</think>b"));

      assertThat(Sse.str(wrap(upstream))).isEqualTo(upstream);
    }

    @Test
    void streamingAndNonStreamingWrapGiveTheSameContent() {
      byte[] out = wrap(stream(chunk(choice(0, nativeDelta("reasoning_content", "r1 r2"), null)), content("c1 c2"),
          finish(0, "stop")));
      ObjectNode body = parse("{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
          + "\"reasoning_content\":\"r1 r2\",\"content\":\"c1 c2\"},\"finish_reason\":\"stop\"}]}");

      JsonRewriter.rewrite(body, ThinkOptions.defaults(), ThinkMode.WRAP, false);

      assertThat(Sse.clientText(out).get(0).content()).isEqualTo(body.at("/choices/0/message/content").asText());
      assertThat(body.at("/choices/0/message").has("reasoning_content")).isFalse();
    }
  }

  @Nested
  class NonStreaming {

    private ObjectNode body(String content) {
      ObjectNode b = parse("{\"id\":\"x\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":"
          + "{\"role\":\"assistant\"},\"finish_reason\":\"stop\"}],\"usage\":{\"total_tokens\":1}}");
      if (content == null) {
        ((ObjectNode) b.at("/choices/0/message")).putNull("content");
      } else {
        ((ObjectNode) b.at("/choices/0/message")).put("content", content);
      }
      return b;
    }

    @Test
    void inlineBlockIsMovedToReasoningContent() {
      ObjectNode b = body("<think>\nplan\n</think>\n\nanswer");

      assertThat(JsonRewriter.rewrite(b, ThinkOptions.defaults(), ThinkMode.SPLIT, false)).isTrue();

      assertThat(b.at("/choices/0/message/reasoning_content").asText()).isEqualTo("plan");
      assertThat(b.at("/choices/0/message/content").asText()).isEqualTo("answer");
    }

    @Test
    void contentIsEmptyStringNotAbsentWhenEverythingWasReasoning() {
      ObjectNode b = body("<think>only</think>");
      JsonRewriter.rewrite(b, ThinkOptions.defaults(), ThinkMode.SPLIT, false);

      assertThat(b.at("/choices/0/message/content").isTextual()).isTrue();
      assertThat(b.at("/choices/0/message/content").asText()).isEmpty();
    }

    @Test
    void nullContentStaysNull() {
      ObjectNode b = body(null);

      assertThat(JsonRewriter.rewrite(b, ThinkOptions.defaults(), ThinkMode.SPLIT, false)).isFalse();
      assertThat(b.at("/choices/0/message/content").isNull()).isTrue();
    }

    @Test
    void bodyWithoutTagsIsReportedUnchanged() {
      ObjectNode b = body("plain answer");
      ObjectNode before = b.deepCopy();

      assertThat(JsonRewriter.rewrite(b, ThinkOptions.defaults(), ThinkMode.SPLIT, false)).isFalse();
      assertThat(b).isEqualTo(before);
    }

    @Test
    void orphanClosingTagIsRemovedAsInTheStream() {
      ObjectNode b = body("prefilled reasoning</think>\n\nanswer");
      JsonRewriter.rewrite(b, ThinkOptions.defaults(), ThinkMode.SPLIT, false);

      assertThat(b.at("/choices/0/message/content").asText()).isEqualTo("prefilled reasoninganswer");
      assertThat(b.at("/choices/0/message").has("reasoning_content")).isFalse();
    }

    @Test
    void implicitOpenMovesTextBeforeTheClosingTag() {
      ObjectNode b = body("prefilled reasoning</think>\n\nanswer");
      JsonRewriter.rewrite(b, ThinkOptions.defaults(), ThinkMode.SPLIT, true);

      assertThat(b.at("/choices/0/message/reasoning_content").asText()).isEqualTo("prefilled reasoning");
      assertThat(b.at("/choices/0/message/content").asText()).isEqualTo("answer");
    }

    @Test
    void stripModeRemovesTheBlockAndAddsNoField() {
      ObjectNode b = body("<think>plan</think>answer");
      JsonRewriter.rewrite(b, ThinkOptions.defaults(), ThinkMode.STRIP, false);

      assertThat(b.at("/choices/0/message/content").asText()).isEqualTo("answer");
      assertThat(b.at("/choices/0/message").has("reasoning_content")).isFalse();
    }

    @Test
    void mistralContentArrayIsSplitIntoReasoningAndText() {
      ObjectNode b = body("x");
      ObjectNode m = (ObjectNode) b.at("/choices/0/message");
      var parts = m.putArray("content");
      parts.addObject().put("type", "thinking").putArray("thinking").addObject().put("type", "text").put("text", "r");
      parts.addObject().put("type", "text").put("text", "c");

      assertThat(JsonRewriter.rewrite(b, ThinkOptions.defaults(), ThinkMode.SPLIT, false)).isTrue();

      assertThat(m.get("reasoning_content").asText()).isEqualTo("r");
      assertThat(m.get("content").asText()).isEqualTo("c");
    }

    @Test
    void streamingAndNonStreamingGiveTheSameStrings() {
      String text = "\n<think>\nLet me see </thi< x\n\n</think>\n\nThe <think>literal</think> answer </think>\n";
      ObjectNode b = body(text);
      JsonRewriter.rewrite(b, ThinkOptions.defaults(), ThinkMode.SPLIT, false);
      byte[] out = split(stream(content(text.substring(0, 5)), content(text.substring(5, 31)),
          content(text.substring(31)), finish(0, "stop")));

      Sse.Text streamed = Sse.clientText(out).get(0);
      assertThat(streamed.reasoning()).isEqualTo(b.at("/choices/0/message/reasoning_content").asText());
      assertThat(streamed.content()).isEqualTo(b.at("/choices/0/message/content").asText());
    }
  }
}
