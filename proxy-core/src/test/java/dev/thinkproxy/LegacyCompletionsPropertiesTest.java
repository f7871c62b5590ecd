package dev.thinkproxy;

import static dev.thinkproxy.LegacyChunks.chunk;
import static dev.thinkproxy.LegacyChunks.choice;
import static dev.thinkproxy.LegacyChunks.finish;
import static dev.thinkproxy.LegacyChunks.text;
import static dev.thinkproxy.SseRewriterPropertiesTest.codePointPieces;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/**
 * The stream invariant for the legacy completions endpoint: for random texts cut into random events of a two-choice
 * {@code text_completion} stream, the text and reasoning a client reads per choice are those of the processor on
 * the whole text; no character of the upstream's text is lost, duplicated or reordered; cutting the upstream bytes
 * anywhere changes nothing; and streaming and non-streaming agree.
 */
class LegacyCompletionsPropertiesTest {

  /** Options the invariant must hold for, each with the processor that is its oracle. */
  enum Config {
    DEFAULT(ThinkOptions.defaults(), false),
    ANYWHERE(ThinkOptions.builder().anywhere(true).build(), false),
    KEEP_WHITESPACE(ThinkOptions.builder().keepWhitespace(true).build(), false),
    IMPLICIT_OPEN(ThinkOptions.defaults(), true),
    MULTI_TAG_INTO_REASONING(ThinkOptions.builder().tags("think,thinking,◁think▷|◁/think▷")
        .reasoningField("reasoning").build(), false);

    final ThinkOptions options;
    final boolean implicitOpen;

    Config(ThinkOptions options, boolean implicitOpen) {
      this.options = options;
      this.implicitOpen = implicitOpen;
    }

    byte[] run(ThinkMode mode, byte[] upstream) {
      return Sse.run(LegacyChunks.sse(options, mode, implicitOpen), upstream);
    }

    Sse.Text oneShot(String text) {
      return Sse.oneShot(options.newProcessor(implicitOpen), text);
    }

    Map<Integer, Sse.Text> clientText(byte[] out) {
      return LegacyChunks.clientText(out, options.reasoningField());
    }
  }

  /** A {@code data:} line with a JSON object; JSON escapes line breaks, so the object is all of the line. */
  private static final Pattern JSON_DATA_LINE = Pattern.compile("^(data: ?)(\\{.*)$", Pattern.MULTILINE);

  /** Every character a tag can contain, and whitespace: what is left is text that must come through exactly once. */
  private static final Pattern NOT_A_MARKER = Pattern.compile("[<>/thinkgTHINKG◁▷\\s\u00A0]");

  @Provide
  Arbitrary<String> texts() {
    return Arbitraries.frequencyOf(Tuple.of(3, ThinkTexts.texts(12)), Tuple.of(1, ThinkTexts.multiTagTexts(12)));
  }

  /** Text without anything tag-like: what a provider puts in a native reasoning field or an answer. */
  @Provide
  Arbitrary<String> plain() {
    return Arbitraries.of("a", "b", "xy", " ", "\n", "é", "😀", ".").list().ofMaxSize(16)
        .map(parts -> String.join("", parts));
  }

  @Property(tries = 300)
  void clientReadsPerChoiceWhatTheProcessorGivesForTheWholeText(@ForAll("texts") String text0,
      @ForAll("texts") String text1, @ForAll @Size(max = 6) List<@IntRange(min = 0, max = 1000) Integer> cuts0,
      @ForAll @Size(max = 6) List<@IntRange(min = 0, max = 1000) Integer> cuts1,
      @ForAll @Size(min = 1, max = 12) List<@IntRange(min = 0, max = 2) Integer> order, @ForAll boolean crlf,
      @ForAll boolean noSpace, @ForAll boolean done, @ForAll Config config) {
    byte[] upstream = Sse.bytes(stream(text0, text1, cuts0, cuts1, order, crlf, noSpace, done));

    byte[] out = config.run(ThinkMode.SPLIT, upstream);

    Map<Integer, Sse.Text> got = config.clientText(out);
    assertThat(got.get(0)).isEqualTo(config.oneShot(text0));
    assertThat(got.get(1)).isEqualTo(config.oneShot(text1));
    List<Sse.Event> dataEvents = Sse.parse(out).stream().filter(e -> e.data() != null).toList();
    assertThat(dataEvents.get(dataEvents.size() - 1).isDone()).as("[DONE] is the last data event").isEqualTo(done);
  }

  @Property(tries = 300)
  void noCharacterOfTheTextIsLostDuplicatedOrReordered(@ForAll("texts") String text0, @ForAll("texts") String text1,
      @ForAll @Size(max = 6) List<@IntRange(min = 0, max = 1000) Integer> cuts0,
      @ForAll @Size(max = 6) List<@IntRange(min = 0, max = 1000) Integer> cuts1,
      @ForAll @Size(min = 1, max = 12) List<@IntRange(min = 0, max = 2) Integer> order, @ForAll Config config) {
    byte[] out = config.run(ThinkMode.SPLIT, Sse.bytes(stream(text0, text1, cuts0, cuts1, order, false, false, true)));

    // Per choice, in the order the client receives them: each event's reasoning, then its text.
    Map<Integer, StringBuilder> received = new TreeMap<>();
    for (JsonNode c : LegacyChunks.choices(out)) {
      received.computeIfAbsent(c.path("index").asInt(), k -> new StringBuilder())
          .append(c.path(config.options.reasoningField()).asText("")).append(c.path("text").asText(""));
    }
    assertThat(markers(received.get(0).toString())).isEqualTo(markers(text0));
    assertThat(markers(received.get(1).toString())).isEqualTo(markers(text1));
  }

  @Property(tries = 300)
  void cuttingTheUpstreamBytesAnywhereChangesNothing(@ForAll("texts") String text0, @ForAll("texts") String text1,
      @ForAll @Size(max = 6) List<@IntRange(min = 0, max = 1000) Integer> cuts0,
      @ForAll @Size(max = 6) List<@IntRange(min = 0, max = 1000) Integer> cuts1,
      @ForAll @Size(min = 1, max = 12) List<@IntRange(min = 0, max = 2) Integer> order, @ForAll boolean crlf,
      @ForAll ThinkMode mode, @ForAll Config config,
      @ForAll @Size(min = 1, max = 20) List<@IntRange(min = 0, max = 100_000) Integer> byteCuts) {
    byte[] upstream = Sse.bytes(stream(text0, text1, cuts0, cuts1, order, crlf, false, true));

    String whole = Sse.str(config.run(mode, upstream));
    String cut = Sse.str(Sse.runPieces(LegacyChunks.sse(config.options, mode, config.implicitOpen),
        SseRewriterPropertiesTest.slices(upstream, byteCuts)));

    assertThat(cut).isEqualTo(whole);
  }

  @Property(tries = 300)
  void stripKeepsSplitsTextAndStreamingAgreesWithNonStreaming(@ForAll("texts") String text,
      @ForAll @Size(max = 6) List<@IntRange(min = 0, max = 1000) Integer> cuts, @ForAll Config config) {
    StringBuilder upstream = new StringBuilder();
    for (String piece : codePointPieces(text, cuts)) {
      upstream.append(Chunks.event(text(piece)));
    }
    upstream.append(Chunks.event(finish(0, "stop")));
    byte[] bytes = Sse.bytes(upstream.toString());
    ObjectNode body = LegacyChunks.body(text);
    JsonRewriter.rewrite(body, config.options, ThinkMode.SPLIT, config.implicitOpen, Endpoint.COMPLETIONS,
        ResponseObserver.NONE);

    Sse.Text split = config.clientText(config.run(ThinkMode.SPLIT, bytes)).get(0);
    Sse.Text strip = config.clientText(config.run(ThinkMode.STRIP, bytes)).get(0);

    assertThat(split).isEqualTo(LegacyChunks.bodyText(body, config.options.reasoningField()));
    assertThat(strip).isEqualTo(new Sse.Text("", split.content()));
  }

  @Property(tries = 300)
  void wrapPutsTheProvidersReasoningInALeadingBlock(@ForAll("plain") String reasoning, @ForAll("plain") String answer,
      @ForAll @Size(max = 5) List<@IntRange(min = 0, max = 1000) Integer> reasoningCuts,
      @ForAll @Size(max = 5) List<@IntRange(min = 0, max = 1000) Integer> answerCuts, @ForAll boolean finishes) {
    StringBuilder upstream = new StringBuilder();
    for (String piece : codePointPieces(reasoning, reasoningCuts)) {
      upstream.append(Chunks.event(chunk(choice(0, "", null).put("reasoning_content", piece))));
    }
    for (String piece : codePointPieces(answer, answerCuts)) {
      upstream.append(Chunks.event(text(piece)));
    }
    if (finishes) {
      upstream.append(Chunks.event(finish(0, "stop")));
    } // else the block is closed at the end of the stream

    byte[] out = Config.DEFAULT.run(ThinkMode.WRAP, Sse.bytes(upstream.toString()));

    String block = reasoning.isEmpty() ? "" : "<think>\n" + reasoning + "\n</think>\n\n";
    assertThat(LegacyChunks.clientText(out).getOrDefault(0, new Sse.Text("", ""))).isEqualTo(
        new Sse.Text("", block + answer));
    assertThat(Sse.str(out)).doesNotContain("reasoning_content");
  }

  /**
   * The two-choice stream of {@link SseRewriterPropertiesTest#stream}, interleaved the same way, with each chunk a
   * legacy one: {@code object} {@code text_completion}, and each choice's {@code delta.content} as its {@code text}.
   */
  static String stream(String text0, String text1, List<Integer> cuts0, List<Integer> cuts1, List<Integer> order,
      boolean crlf, boolean noSpace, boolean done) {
    String chat = SseRewriterPropertiesTest.stream(text0, text1, cuts0, cuts1, order, crlf, noSpace, done);
    return JSON_DATA_LINE.matcher(chat).replaceAll(m -> Matcher.quoteReplacement(m.group(1) + asLegacy(m.group(2))));
  }

  private static String asLegacy(String chatChunk) {
    ObjectNode chunk = LegacyChunks.parse(chatChunk);
    chunk.put("object", "text_completion");
    for (JsonNode c : chunk.path("choices")) {
      JsonNode delta = ((ObjectNode) c).remove("delta");
      ((ObjectNode) c).put("text", delta.path("content").asText(""));
    }
    return Chunks.json(chunk);
  }

  private static String markers(String s) {
    return NOT_A_MARKER.matcher(s).replaceAll("");
  }
}
