package dev.thinkproxy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Real captured provider responses ({@code shared/fixtures}) replayed through the stream rewriter in split mode and
 * through the JSON rewriter: what the upstream carried arrives, under the configured names, with nothing else lost.
 */
class FixtureReplayTest {
  private static final Set<String> ENVELOPE = Set.of("id", "object", "created", "model", "system_fingerprint");
  private static final Set<String> TEXT_FIELDS = Set.of("content", "reasoning_content", "reasoning");

  static Stream<Path> sseFixtures() {
    return Fixtures.withExtension(".sse").stream();
  }

  static Stream<Path> jsonFixtures() {
    return Fixtures.withExtension(".json").stream();
  }

  private static byte[] replay(Path fixture) {
    return Sse.run(Sse.splitRewriter(), Fixtures.read(fixture));
  }

  @Test
  void fixturesAreFoundBesideTheRepository() {
    assertThat(sseFixtures()).hasSizeGreaterThanOrEqualTo(10);
    assertThat(jsonFixtures()).hasSizeGreaterThanOrEqualTo(5);
  }

  @Nested
  class Streams {

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.thinkproxy.FixtureReplayTest#sseFixtures")
    void outputIsAWellFormedEventStreamOfJsonChunksCommentsAndDone(Path fixture) {
      byte[] out = replay(fixture);

      assertThat(Sse.str(out)).endsWith("\n\n");
      for (Sse.Event e : Sse.parse(out)) {
        if (e.data() == null) {
          assertThat(e.lines()).allMatch(l -> l.startsWith(":"));
        } else {
          assertThat(e.isDone() || e.isJson()).as("event data %s", e.data()).isTrue();
        }
      }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.thinkproxy.FixtureReplayTest#sseFixtures")
    void reasoningAndContentPerChoiceAreWhatTheUpstreamCarried(Path fixture) {
      byte[] in = Fixtures.read(fixture);

      Map<Integer, Sse.Text> expected = Sse.upstreamText(in);
      Map<Integer, Sse.Text> got = Sse.clientText(replay(fixture));

      assertThat(got).isEqualTo(expected);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.thinkproxy.FixtureReplayTest#sseFixtures")
    void doneIsForwardedExactlyWhenTheUpstreamSentIt(Path fixture) {
      long upstream = Sse.parse(Fixtures.read(fixture)).stream().filter(Sse.Event::isDone).count();
      List<Sse.Event> out = Sse.parse(replay(fixture));

      assertThat(out.stream().filter(Sse.Event::isDone).count()).isEqualTo(upstream);
      if (upstream > 0) {
        assertThat(out.get(out.size() - 1).isDone()).as("[DONE] is last").isTrue();
      }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.thinkproxy.FixtureReplayTest#sseFixtures")
    void usageObjectsArriveUnchangedAndInOrder(Path fixture) {
      assertThat(usages(replay(fixture))).isEqualTo(usages(Fixtures.read(fixture)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.thinkproxy.FixtureReplayTest#sseFixtures")
    void unknownAndNonTextFieldsArriveUnchangedAndInOrder(Path fixture) {
      // x_groq, obfuscation, p, timings, prompt_filter_results, content_filter_results, service_tier, role,
      // tool_calls, refusal, finish_reason, logprobs ...: everything but the envelope and the text fields.
      assertThat(nonTextFields(replay(fixture))).isEqualTo(nonTextFields(Fixtures.read(fixture)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.thinkproxy.FixtureReplayTest#sseFixtures")
    void everyEventKeepsTheEnvelopeOfTheUpstreamEvent(Path fixture) {
      List<String> upstream = new ArrayList<>();
      for (JsonNode c : Sse.jsonEvents(Sse.parse(Fixtures.read(fixture)))) {
        upstream.add(envelopeOf(c));
      }
      for (JsonNode c : Sse.jsonEvents(Sse.parse(replay(fixture)))) {
        assertThat(upstream).contains(envelopeOf(c));
      }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.thinkproxy.FixtureReplayTest#sseFixtures")
    void onlyTheConfiguredReasoningFieldIsWritten(Path fixture) {
      for (JsonNode c : Sse.jsonEvents(Sse.parse(replay(fixture)))) {
        for (JsonNode choice : c.path("choices")) {
          assertThat(choice.path("delta").has("reasoning")).as("event %s", c).isFalse();
        }
      }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.thinkproxy.FixtureReplayTest#sseFixtures")
    void noEventCarriesReasoningAndContentTextTogether(Path fixture) {
      for (JsonNode c : Sse.jsonEvents(Sse.parse(replay(fixture)))) {
        for (JsonNode choice : c.path("choices")) {
          JsonNode d = choice.path("delta");
          boolean r = !d.path("reasoning_content").asText("").isEmpty();
          boolean t = d.path("content").isTextual() && !d.path("content").asText().isEmpty();
          assertThat(r && t).as("event %s", c).isFalse();
          assertThat(d.path("content").isArray()).as("content arrays are split: %s", c).isFalse();
        }
      }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.thinkproxy.FixtureReplayTest#sseFixtures")
    void cuttingTheUpstreamBytesAtRandomPlacesGivesTheSameOutput(Path fixture) {
      byte[] in = Fixtures.read(fixture);
      String whole = Sse.str(replay(fixture));
      Random random = new Random(fixture.getFileName().toString().hashCode());
      for (int run = 0; run < 20; run++) {
        int[] cuts = random.ints(1 + random.nextInt(200), 0, in.length + 1).sorted().toArray();
        assertThat(Sse.str(Sse.runCut(Sse.splitRewriter(), in, cuts))).as("run %d", run).isEqualTo(whole);
      }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.thinkproxy.FixtureReplayTest#sseFixtures")
    void reasoningFieldNamedReasoningCarriesTheSameText(Path fixture) {
      ThinkOptions options = ThinkOptions.builder().reasoningField("reasoning").build();
      byte[] out = Sse.run(Sse.rewriter(options, ThinkMode.SPLIT, false), Fixtures.read(fixture));

      Map<Integer, Sse.Text> expected = Sse.upstreamText(Fixtures.read(fixture));
      assertThat(Sse.clientText(out, "reasoning")).isEqualTo(expected);
      assertThat(Sse.str(out)).doesNotContain("\"reasoning_content\"");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.thinkproxy.FixtureReplayTest#sseFixtures")
    void stripModeRemovesTheReasoningAndKeepsTheContent(Path fixture) {
      byte[] out = Sse.run(Sse.rewriter(ThinkOptions.defaults(), ThinkMode.STRIP, false), Fixtures.read(fixture));

      Map<Integer, Sse.Text> expected = Sse.upstreamText(Fixtures.read(fixture));
      Map<Integer, Sse.Text> got = Sse.clientText(out);
      // A choice whose events carried only reasoning may have no event left at all.
      expected.forEach((i, t) -> assertThat(got.getOrDefault(i, new Sse.Text("", "")))
          .isEqualTo(new Sse.Text("", t.content())));
      assertThat(Sse.str(out)).doesNotContain("\"reasoning_content\":\"").doesNotContain("\"reasoning\":\"")
          .doesNotContain("\"type\":\"thinking\"");
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"openai-gpt41nano-usage-chunk.sse", "azure-model-router-prompt-filter.sse",
        "groq-llama33-toolcall-xgroq-usage.sse"})
    void streamWithoutReasoningPassesThroughByteForByte(String name) {
      Path f = Fixtures.named(name);

      assertThat(Sse.str(replay(f))).isEqualTo(Sse.str(Fixtures.read(f)));
    }

    @Test
    void groqReasoningFieldIsRenamedToReasoningContent() {
      byte[] out = replay(Fixtures.named("groq-qwen3-32b-reasoning-field.sse"));

      Sse.Text text = Sse.clientText(out).get(0);
      assertThat(text.reasoning()).startsWith("Okay, let me try to figure out how many");
      assertThat(text.content()).isNotEmpty();
      assertThat(Sse.str(out)).doesNotContain("\"reasoning\":");
    }

    @Test
    void groqFirstAndLastChunkKeepXGroqAndTheLastKeepsBothUsages() {
      List<JsonNode> chunks = Sse.jsonEvents(Sse.parse(replay(Fixtures.named("groq-qwen3-32b-reasoning-field.sse"))));

      assertThat(chunks.get(0).path("x_groq").path("id").asText()).startsWith("req_");
      JsonNode last = chunks.get(chunks.size() - 1);
      assertThat(last.path("x_groq").path("usage").isObject()).isTrue();
      assertThat(last.path("usage").path("completion_tokens_details").path("reasoning_tokens").isNumber()).isTrue();
    }

    @Test
    void mistralDeltaWithThinkingAndTextPartsBecomesReasoningThenContent() {
      List<JsonNode> chunks =
          Sse.jsonEvents(Sse.parse(replay(Fixtures.named("mistral-small-thinking-content-array.sse"))));

      int i = 0;
      while (!chunks.get(i).at("/choices/0/delta/reasoning_content").asText("").equals("1.")) {
        i++;
      }
      assertThat(chunks.get(i).at("/choices/0/delta/content").asText()).isEmpty();
      assertThat(chunks.get(i + 1).at("/choices/0/delta/content").asText()).isEqualTo("3");
      assertThat(chunks.get(i + 1).path("p").asText()).isEqualTo("abcd");
    }

    @Test
    void mistralReasoningAndAnswerAreSplit() {
      Sse.Text text = Sse.clientText(replay(Fixtures.named("mistral-small-thinking-content-array.sse"))).get(0);

      assertThat(text.reasoning()).startsWith("Okay, the user is asking for the product of 17 and 23.");
      assertThat(text.content()).isEqualTo("391");
    }

    @Test
    void deepseekToolCallStreamKeepsReasoningToolCallsAndUsage() {
      byte[] out = replay(Fixtures.named("deepseek-v4-flash-reasoning-toolcall.sse"));

      StringBuilder args = new StringBuilder();
      for (JsonNode c : Sse.jsonEvents(Sse.parse(out))) {
        for (JsonNode tc : c.at("/choices/0/delta/tool_calls")) {
          args.append(tc.path("function").path("arguments").asText(""));
        }
      }
      assertThat(args.toString()).isEqualTo("{\"location\": \"San Francisco\"}");
      assertThat(Sse.clientText(out).get(0).reasoning()).isNotEmpty();
    }

    @Test
    void excerptWithoutDoneGetsNoDoneAdded() {
      byte[] out = replay(Fixtures.named("deepseek-r1-hosted-data-no-space-excerpt.sse"));

      assertThat(Sse.str(out)).doesNotContain("[DONE]");
      assertThat(Sse.clientText(out).get(0).reasoning()).isEqualTo("Okay, the user");
    }

    @Test
    void firstDeepseekDeltaKeepsItsRoleAndNullContent() {
      List<JsonNode> chunks = Sse.jsonEvents(Sse.parse(replay(Fixtures.named("deepseek-v4-flash-reasoning.sse"))));

      JsonNode d = chunks.get(0).at("/choices/0/delta");
      assertThat(d.path("role").asText()).isEqualTo("assistant");
      assertThat(d.has("content")).isTrue();
      assertThat(d.get("content").isNull()).isTrue();
    }
  }

  @Nested
  class JsonBodies {

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.thinkproxy.FixtureReplayTest#jsonFixtures")
    void chatCompletionKeepsItsReasoningUnderTheConfiguredNameAndItsContent(Path fixture) throws Exception {
      ObjectNode body = (ObjectNode) Sse.MAPPER.readTree(Fixtures.read(fixture));
      ObjectNode original = body.deepCopy();

      boolean changed = JsonRewriter.rewrite(body, ThinkOptions.defaults(), ThinkMode.SPLIT, false);

      if (!original.has("choices")) {
        assertThat(changed).as("an error body is not a chat completion").isFalse();
        assertThat(body).isEqualTo(original);
        return;
      }
      for (int i = 0; i < original.get("choices").size(); i++) {
        JsonNode before = original.get("choices").get(i).get("message");
        JsonNode after = body.get("choices").get(i).get("message");
        String rc = before.path("reasoning_content").asText("");
        String r = before.path("reasoning").asText("");
        assertThat(after.path("reasoning_content").asText()).isEqualTo(rc.equals(r) ? rc : rc + r);
        assertThat(after.has("reasoning")).isFalse();
        assertThat(after.get("content")).isEqualTo(before.get("content"));
        assertThat(after.get("tool_calls")).isEqualTo(before.get("tool_calls"));
        assertThat(after.get("role")).isEqualTo(before.get("role"));
      }
      assertThat(withoutChoices(body)).isEqualTo(withoutChoices(original));
    }

    @Test
    void groqMessageReasoningIsRenamedToReasoningContent() throws Exception {
      ObjectNode body = (ObjectNode) Sse.MAPPER.readTree(Fixtures.read(Fixtures.named(
          "groq-qwen3-32b-reasoning-field.json")));
      String reasoning = body.at("/choices/0/message/reasoning").asText();

      assertThat(JsonRewriter.rewrite(body, ThinkOptions.defaults(), ThinkMode.SPLIT, false)).isTrue();

      JsonNode m = body.at("/choices/0/message");
      assertThat(m.has("reasoning")).isFalse();
      assertThat(m.path("reasoning_content").asText()).isEqualTo(reasoning);
      assertThat(body.path("x_groq").path("id").asText()).startsWith("req_");
      assertThat(body.path("usage_breakdown").isNull()).isTrue();
    }

    @Test
    void rewrittenBodyKeepsExactNumbers() throws Exception {
      ObjectNode body = (ObjectNode) Sse.MAPPER.readTree(Fixtures.read(Fixtures.named(
          "groq-qwen3-32b-reasoning-field.json")));
      JsonRewriter.rewrite(body, ThinkOptions.defaults(), ThinkMode.SPLIT, false);

      String json = Sse.MAPPER.writeValueAsString(body);
      assertThat(json).contains("\"queue_time\":0.335637089").contains("\"total_time\":1.231680545");
    }
  }

  private static List<String> usages(byte[] stream) {
    List<String> out = new ArrayList<>();
    for (JsonNode c : Sse.jsonEvents(Sse.parse(stream))) {
      if (c.has("usage") && !c.get("usage").isNull()) {
        out.add(c.get("usage").toString());
      }
    }
    return out;
  }

  private static List<String> nonTextFields(byte[] stream) {
    List<String> out = new ArrayList<>();
    for (JsonNode c : Sse.jsonEvents(Sse.parse(stream))) {
      fields(c, "", Set.of("choices"), out);
      for (JsonNode choice : c.path("choices")) {
        String idx = "[" + choice.path("index").asInt() + "]";
        fields(choice, "choice" + idx + ".", Set.of("delta", "index"), out);
        fields(choice.path("delta"), "delta" + idx + ".", TEXT_FIELDS, out);
      }
    }
    return out;
  }

  private static void fields(JsonNode node, String prefix, Set<String> skip, List<String> out) {
    Iterator<Map.Entry<String, JsonNode>> it = node.fields();
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> f = it.next();
      if (!skip.contains(f.getKey()) && !ENVELOPE.contains(f.getKey()) && !f.getValue().isNull()) {
        out.add(prefix + f.getKey() + "=" + f.getValue());
      }
    }
  }

  private static String envelopeOf(JsonNode c) {
    StringBuilder b = new StringBuilder();
    for (String k : List.of("id", "object", "created", "model", "system_fingerprint")) {
      b.append(k).append('=').append(c.get(k)).append(';');
    }
    return b.toString();
  }

  private static JsonNode withoutChoices(ObjectNode body) {
    ObjectNode copy = body.deepCopy();
    copy.remove("choices");
    return copy;
  }
}
