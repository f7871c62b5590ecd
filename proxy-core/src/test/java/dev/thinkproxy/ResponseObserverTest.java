package dev.thinkproxy;

import static dev.thinkproxy.Chunks.choice;
import static dev.thinkproxy.Chunks.chunk;
import static dev.thinkproxy.Chunks.content;
import static dev.thinkproxy.Chunks.delta;
import static dev.thinkproxy.Chunks.finish;
import static dev.thinkproxy.Chunks.role;
import static dev.thinkproxy.Chunks.stream;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * What the rewriters tell a {@link ResponseObserver} as output goes out: reasoning, answer and token usage, in
 * every mode; in mode off without changing a byte.
 */
class ResponseObserverTest {

  /** Records every call, in order. */
  static final class Recording implements ResponseObserver {
    final List<String> calls = new ArrayList<>();
    final List<TokenUsage> usages = new ArrayList<>();

    @Override
    public void reasoning() {
      calls.add("reasoning");
    }

    @Override
    public void content() {
      calls.add("content");
    }

    @Override
    public void usage(TokenUsage usage) {
      calls.add("usage");
      usages.add(usage);
    }

    /** Each kind of call once, in the order of its first call: what an observer that keeps the first sees. */
    List<String> firsts() {
      return List.copyOf(new LinkedHashSet<>(calls));
    }
  }

  private static byte[] relay(ThinkMode mode, Endpoint endpoint, Recording observer, String upstream) {
    ChunkRewriter r = new ChunkRewriter(ThinkOptions.defaults(), mode, false, Sse.MAPPER, endpoint, observer);
    return Sse.run(new SseRewriter(r, Sse.MAPPER, Long.MAX_VALUE), Sse.bytes(upstream));
  }

  private static Recording observe(ThinkMode mode, String upstream) {
    Recording observer = new Recording();
    relay(mode, Endpoint.CHAT_COMPLETIONS, observer, upstream);
    return observer;
  }

  private static String withUsage(String payload, String usage) {
    return payload.substring(0, payload.length() - 1) + ",\"usage\":" + usage + "}";
  }

  private static String toolCall() {
    ObjectNode d = delta();
    d.putArray("tool_calls").addObject().put("index", 0).put("id", "call_1").putObject("function").put("name", "f");
    return chunk(choice(0, d, null));
  }

  @Provide
  Arbitrary<String> texts() {
    return ThinkTexts.texts(12);
  }

  /** In every mode, whether reasoning and answer are reported; in mode off, not a byte changed. */
  @Property(tries = 300)
  void reasoningAndAnswerAreReportedExactlyWhenTheModelProducedThem(@ForAll("texts") String text0,
      @ForAll("texts") String text1, @ForAll @Size(max = 6) List<@IntRange(min = 0, max = 1000) Integer> cuts0,
      @ForAll @Size(max = 6) List<@IntRange(min = 0, max = 1000) Integer> cuts1,
      @ForAll @Size(min = 1, max = 12) List<@IntRange(min = 0, max = 2) Integer> order, @ForAll boolean done,
      @ForAll ThinkMode mode) {
    String upstream = SseRewriterPropertiesTest.stream(text0, text1, cuts0, cuts1, order, false, false, done);
    Recording o = new Recording();

    byte[] out = relay(mode, Endpoint.CHAT_COMPLETIONS, o, upstream);

    if (mode == ThinkMode.OFF) {
      assertThat(Sse.str(out)).isEqualTo(upstream);
    }
    Sse.Text t0 = Sse.oneShot(ThinkTagProcessor.builder().build(), text0);
    Sse.Text t1 = Sse.oneShot(ThinkTagProcessor.builder().build(), text1);
    assertThat(o.calls.contains("reasoning")).as("reasoning reported")
        .isEqualTo(!t0.reasoning().isEmpty() || !t1.reasoning().isEmpty());
    assertThat(o.calls.contains("content")).as("content reported")
        .isEqualTo(!t0.content().isEmpty() || !t1.content().isEmpty());
  }

  @Nested
  class Streaming {

    @ParameterizedTest
    @EnumSource(ThinkMode.class)
    void inlineThinkThenAnswerReportsReasoningBeforeContent(ThinkMode mode) {
      Recording o = observe(mode, stream(role(0), content("<thi"), content("nk>plan</think>\n\nThe"),
          content(" answer"), finish(0, "stop"), "[DONE]"));

      assertThat(o.firsts()).containsExactly("reasoning", "content");
    }

    @ParameterizedTest
    @EnumSource(ThinkMode.class)
    void providersReasoningFieldThenAnswerReportsReasoningBeforeContent(ThinkMode mode) {
      Recording o = observe(mode, stream(chunk(choice(0, delta().put("reasoning", "plan"), null)), content("answer")));

      assertThat(o.firsts()).containsExactly("reasoning", "content");
    }

    @ParameterizedTest
    @EnumSource(ThinkMode.class)
    void legacyThinkThenAnswerReportsReasoningBeforeContent(ThinkMode mode) {
      Recording o = new Recording();
      relay(mode, Endpoint.COMPLETIONS, o, stream(LegacyChunks.text("<think>plan</th"), LegacyChunks.text("ink>a"),
          LegacyChunks.finish(0, "length")));

      assertThat(o.firsts()).containsExactly("reasoning", "content");
    }

    @Test
    void stripReportsTheReasoningItRemoves() {
      Recording o = new Recording();
      byte[] out = relay(ThinkMode.STRIP, Endpoint.CHAT_COMPLETIONS, o, stream(content("<think>plan</think>answer")));

      assertThat(Sse.str(out)).doesNotContain("plan");
      assertThat(o.firsts()).containsExactly("reasoning", "content");
    }

    @Test
    void reasoningHeldUntilTheEndOfTheStreamIsReportedWhenReleased() {
      assertThat(observe(ThinkMode.SPLIT, stream(content("<think>\n"))).calls).isEmpty();
      assertThat(observe(ThinkMode.SPLIT, stream(content("<think>\n"), content("<"))).calls)
          .containsExactly("reasoning");
    }

    @ParameterizedTest
    @EnumSource(ThinkMode.class)
    void toolCallOnlyAnswerReportsContent(ThinkMode mode) {
      Recording o = observe(mode, stream(role(0), toolCall(), finish(0, "tool_calls")));

      assertThat(o.calls).containsExactly("content");
    }

    @ParameterizedTest
    @EnumSource(ThinkMode.class)
    void refusalReportsContent(ThinkMode mode) {
      Recording o = observe(mode, stream(role(0), chunk(choice(0, delta().put("refusal", "I can't"), null))));

      assertThat(o.calls).containsExactly("content");
    }

    @Test
    void emptyTextRefusalAndToolCallListsAreNoOutput() {
      ObjectNode d = delta().put("reasoning_content", "r").put("content", "").put("refusal", "");
      d.putArray("tool_calls");

      assertThat(observe(ThinkMode.SPLIT, stream(role(0), chunk(choice(0, d, null)))).calls)
          .containsExactly("reasoning");
    }
  }

  @Nested
  class Usage {

    private TokenUsage usageOf(String usage) {
      Recording o = observe(ThinkMode.SPLIT, stream(withUsage("{\"id\":\"x\",\"choices\":[]}", usage)));
      assertThat(o.usages).hasSize(1);
      return o.usages.get(0);
    }

    @Test
    void countsAreRead() {
      assertThat(usageOf("{\"prompt_tokens\":10,\"completion_tokens\":20,\"total_tokens\":31,"
          + "\"completion_tokens_details\":{\"reasoning_tokens\":5}}")).isEqualTo(new TokenUsage(10, 20, 31, 5));
    }

    @Test
    void missingCountsAreZeroAndTheTotalIsTheirSum() {
      assertThat(usageOf("{}")).isEqualTo(new TokenUsage(0, 0, 0, 0));
      assertThat(usageOf("{\"prompt_tokens\":3,\"completion_tokens\":4}")).isEqualTo(new TokenUsage(3, 4, 7, 0));
      assertThat(usageOf("{\"prompt_tokens\":\"3\",\"completion_tokens\":null,\"total_tokens\":{}}"))
          .isEqualTo(new TokenUsage(0, 0, 0, 0));
    }

    @Test
    void reasoningTokensAtTheTopLevelCountWhenTheDetailsHaveNone() {
      assertThat(usageOf("{\"completion_tokens\":9,\"reasoning_tokens\":6}")).isEqualTo(new TokenUsage(0, 9, 9, 6));
      assertThat(usageOf("{\"completion_tokens_details\":{\"audio_tokens\":1},\"reasoning_tokens\":6}"))
          .isEqualTo(new TokenUsage(0, 0, 0, 6));
      assertThat(usageOf("{\"completion_tokens_details\":{\"reasoning_tokens\":2},\"reasoning_tokens\":6}"))
          .isEqualTo(new TokenUsage(0, 0, 0, 2));
    }

    @ParameterizedTest
    @EnumSource(ThinkMode.class)
    void usageThatIsNotAnObjectIsNotReported(ThinkMode mode) {
      Recording o = observe(mode, stream(withUsage("{\"choices\":[]}", "null"), withUsage("{\"choices\":[]}", "7"),
          withUsage(content("a"), "\"x\"")));

      assertThat(o.calls).containsExactly("content");
    }

    @ParameterizedTest
    @EnumSource(ThinkMode.class)
    void usageOnTheFinishChunkOfARewrittenStreamIsReported(ThinkMode mode) {
      Recording o = observe(mode, stream(content("<think>a</think>b"),
          withUsage(finish(0, "stop"), "{\"prompt_tokens\":1,\"completion_tokens\":2,\"total_tokens\":3}")));

      assertThat(o.firsts()).containsExactly("reasoning", "content", "usage");
      assertThat(o.usages).containsExactly(new TokenUsage(1, 2, 3, 0));
    }

    @Test
    void aCapturedStreamsUsageIsRead() {
      Recording o = new Recording();
      ChunkRewriter r = new ChunkRewriter(ThinkOptions.defaults(), ThinkMode.SPLIT, false, Sse.MAPPER,
          Endpoint.CHAT_COMPLETIONS, o);
      Sse.run(new SseRewriter(r, Sse.MAPPER, Long.MAX_VALUE),
          Fixtures.read(Fixtures.named("deepseek-v4-flash-reasoning.sse")));

      assertThat(o.firsts()).containsExactly("reasoning", "content", "usage");
      assertThat(o.usages).containsExactly(new TokenUsage(97, 106, 203, 88));
    }
  }

  @Nested
  class OffMode {

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.thinkproxy.FixtureReplayTest#sseFixtures")
    void capturedStreamsGoOutAsTheyWouldWithoutARewriter(Path fixture) {
      byte[] upstream = Fixtures.read(fixture);
      Recording o = new Recording();
      ChunkRewriter observing = new ChunkRewriter(ThinkOptions.defaults(), ThinkMode.OFF, false, Sse.MAPPER,
          Endpoint.CHAT_COMPLETIONS, o);

      byte[] out = Sse.run(new SseRewriter(observing, Sse.MAPPER, Long.MAX_VALUE), upstream);

      assertThat(Sse.str(out)).isEqualTo(Sse.str(Sse.run(new SseRewriter(null, Sse.MAPPER, Long.MAX_VALUE), upstream)));
      Sse.Text upstreamText = Sse.upstreamText(upstream).get(0);
      assertThat(o.calls.contains("reasoning")).as("reasoning reported").isEqualTo(!upstreamText.reasoning().isEmpty());
      if (!upstreamText.content().isEmpty()) {
        assertThat(o.calls).as("content reported").contains("content");
      }
    }

    @Test
    void everyEventIsForwardedAsItCame() {
      ChunkRewriter r = new ChunkRewriter(ThinkOptions.defaults(), ThinkMode.OFF, false, Sse.MAPPER,
          Endpoint.CHAT_COMPLETIONS, new Recording());
      for (String payload : List.of(content("<think>a"), content("b</thi"), content("nk>c"),
          chunk(choice(0, delta().put("reasoning_content", "r"), "stop")))) {
        byte[] bytes = Sse.bytes(payload);
        assertThat(r.rewrite(r.scan(bytes, 0, bytes.length))).as(payload).isNull();
      }
      assertThat(r.flushAll()).isEmpty();
    }
  }

  @Nested
  class NonStreaming {

    private Recording rewrite(ObjectNode body, ThinkMode mode, Endpoint endpoint) {
      Recording o = new Recording();
      JsonRewriter.rewrite(body, ThinkOptions.defaults(), mode, false, endpoint, o);
      return o;
    }

    private ObjectNode chat(String message) {
      return LegacyChunks.parse("{\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":" + message
          + ",\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":3,"
          + "\"completion_tokens_details\":{\"reasoning_tokens\":1}}}");
    }

    @ParameterizedTest
    @EnumSource(ThinkMode.class)
    void thinkThenAnswerReportsReasoningContentAndUsage(ThinkMode mode) {
      Recording o = rewrite(chat("{\"role\":\"assistant\",\"content\":\"<think>plan</think>answer\"}"), mode,
          Endpoint.CHAT_COMPLETIONS);

      assertThat(o.calls).containsExactly("reasoning", "content", "usage");
      assertThat(o.usages).containsExactly(new TokenUsage(2, 3, 5, 1));
    }

    @ParameterizedTest
    @EnumSource(ThinkMode.class)
    void legacyBodyReportsLikeChat(ThinkMode mode) {
      ObjectNode body = LegacyChunks.body("answer");
      ((ObjectNode) body.at("/choices/0")).put("reasoning_content", "plan");

      Recording o = rewrite(body, mode, Endpoint.COMPLETIONS);

      assertThat(o.calls).containsExactly("reasoning", "content", "usage");
      assertThat(o.usages).containsExactly(new TokenUsage(5, 7, 12, 0));
    }

    @ParameterizedTest
    @EnumSource(ThinkMode.class)
    void toolCallOnlyMessageReportsContent(ThinkMode mode) {
      Recording o = rewrite(chat("{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\"}]}"),
          mode, Endpoint.CHAT_COMPLETIONS);

      assertThat(o.firsts()).containsExactly("content", "usage");
    }

    @Test
    void offModeChangesNothingAndReports() {
      ObjectNode body = chat("{\"role\":\"assistant\",\"content\":\"<think>plan</think>answer\"}");
      ObjectNode before = body.deepCopy();

      Recording o = new Recording();
      assertThat(JsonRewriter.rewrite(body, ThinkOptions.defaults(), ThinkMode.OFF, false, Endpoint.CHAT_COMPLETIONS,
          o)).isFalse();

      assertThat(body).isEqualTo(before);
      assertThat(o.calls).containsExactly("reasoning", "content", "usage");
    }
  }
}
