package dev.thinkproxy;

import static dev.thinkproxy.Chunks.choice;
import static dev.thinkproxy.Chunks.chunk;
import static dev.thinkproxy.Chunks.content;
import static dev.thinkproxy.Chunks.contentDelta;
import static dev.thinkproxy.Chunks.finish;
import static dev.thinkproxy.Chunks.role;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/**
 * The stream-level invariant: for generated two-choice streams with think tags spread over interleaved events, the
 * reasoning and content the client reads per choice are those of the processor on that choice's whole text, and
 * cutting the upstream bytes anywhere (inside UTF-8 characters, inside {@code data:}, between CR and LF) changes
 * nothing in the output.
 */
class SseRewriterPropertiesTest {

  @Provide
  Arbitrary<String> texts() {
    return ThinkTexts.texts(12);
  }

  @Property(tries = 300)
  void clientReadsPerChoiceWhatTheProcessorGivesForTheWholeText(
      @ForAll("texts") String text0, @ForAll("texts") String text1,
      @ForAll @Size(max = 6) List<@IntRange(min = 0, max = 1000) Integer> cuts0,
      @ForAll @Size(max = 6) List<@IntRange(min = 0, max = 1000) Integer> cuts1,
      @ForAll @Size(min = 1, max = 12) List<@IntRange(min = 0, max = 2) Integer> order,
      @ForAll boolean crlf, @ForAll boolean noSpace, @ForAll boolean done) {
    byte[] upstream = Sse.bytes(stream(text0, text1, cuts0, cuts1, order, crlf, noSpace, done));

    byte[] out = Sse.run(Sse.splitRewriter(), upstream);

    Map<Integer, Sse.Text> got = Sse.clientText(out);
    assertThat(got.get(0)).isEqualTo(Sse.oneShot(ThinkTagProcessor.builder().build(), text0));
    assertThat(got.get(1)).isEqualTo(Sse.oneShot(ThinkTagProcessor.builder().build(), text1));
    List<Sse.Event> dataEvents = Sse.parse(out).stream().filter(e -> e.data() != null).toList();
    assertThat(dataEvents.get(dataEvents.size() - 1).isDone()).as("[DONE] is the last data event").isEqualTo(done);
  }

  @Property(tries = 300)
  void cuttingTheUpstreamBytesAnywhereChangesNothing(
      @ForAll("texts") String text0, @ForAll("texts") String text1,
      @ForAll @Size(max = 6) List<@IntRange(min = 0, max = 1000) Integer> cuts0,
      @ForAll @Size(max = 6) List<@IntRange(min = 0, max = 1000) Integer> cuts1,
      @ForAll @Size(min = 1, max = 12) List<@IntRange(min = 0, max = 2) Integer> order,
      @ForAll boolean crlf, @ForAll boolean noSpace, @ForAll boolean done,
      @ForAll @Size(min = 1, max = 20) List<@IntRange(min = 0, max = 100_000) Integer> byteCuts) {
    byte[] upstream = Sse.bytes(stream(text0, text1, cuts0, cuts1, order, crlf, noSpace, done));

    String whole = Sse.str(Sse.run(Sse.splitRewriter(), upstream));
    String cut = Sse.str(Sse.runPieces(Sse.splitRewriter(), slices(upstream, byteCuts)));

    assertThat(cut).isEqualTo(whole);
  }

  @Property(tries = 300)
  void streamingAndNonStreamingGiveTheSameStrings(@ForAll("texts") String text,
      @ForAll @Size(max = 6) List<@IntRange(min = 0, max = 1000) Integer> cuts, @ForAll boolean implicitOpen,
      @ForAll boolean strip) {
    ThinkMode mode = strip ? ThinkMode.STRIP : ThinkMode.SPLIT;
    StringBuilder upstream = new StringBuilder(Chunks.event(role(0)));
    for (String piece : codePointPieces(text, cuts)) {
      upstream.append(Chunks.event(content(0, piece)));
    }
    upstream.append(Chunks.event(finish(0, "stop")));
    byte[] out = Sse.run(Sse.rewriter(ThinkOptions.defaults(), mode, implicitOpen), Sse.bytes(upstream.toString()));

    com.fasterxml.jackson.databind.node.ObjectNode body = Sse.MAPPER.createObjectNode().put("object",
        "chat.completion");
    body.putArray("choices").addObject().put("index", 0).put("finish_reason", "stop").putObject("message")
        .put("role", "assistant").put("content", text);
    JsonRewriter.rewrite(body, ThinkOptions.defaults(), mode, implicitOpen);

    Sse.Text streamed = Sse.clientText(out).get(0);
    com.fasterxml.jackson.databind.JsonNode message = body.at("/choices/0/message");
    assertThat(streamed.reasoning()).isEqualTo(message.path("reasoning_content").asText(""));
    assertThat(streamed.content()).isEqualTo(message.path("content").asText());
  }

  /** Builds the upstream stream: roles, interleaved content events (sometimes both choices in one), finishes. */
  static String stream(String text0, String text1, List<Integer> cuts0, List<Integer> cuts1, List<Integer> order,
      boolean crlf, boolean noSpace, boolean done) {
    List<String> p0 = codePointPieces(text0, cuts0);
    List<String> p1 = codePointPieces(text1, cuts1);
    List<String> payloads = new ArrayList<>();
    payloads.add(role(0));
    payloads.add(role(1));
    int i0 = 0;
    int i1 = 0;
    int k = 0;
    while (i0 < p0.size() || i1 < p1.size()) {
      int pick = order.get(k++ % order.size());
      if (pick == 2 && i0 < p0.size() && i1 < p1.size()) {
        payloads.add(chunk(choice(1, contentDelta(p1.get(i1++)), null), choice(0, contentDelta(p0.get(i0++)), null)));
      } else if ((pick == 0 && i0 < p0.size()) || i1 >= p1.size()) {
        payloads.add(content(0, p0.get(i0++)));
      } else {
        payloads.add(content(1, p1.get(i1++)));
      }
    }
    payloads.add(finish(1, "length"));
    payloads.add(finish(0, "stop"));
    payloads.add("{\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"total_tokens\":3}}");
    if (done) {
      payloads.add("[DONE]");
    }
    String nl = crlf ? "\r\n" : "\n";
    StringBuilder b = new StringBuilder();
    int n = 0;
    for (String p : payloads) {
      b.append(noSpace ? "data:" : "data: ").append(p).append(nl).append(nl);
      if (++n % 3 == 0) {
        b.append(": keep-alive").append(nl).append(nl);
      }
    }
    return b.toString();
  }

  /** Cuts a text into pieces at code point boundaries (providers send whole characters per event). */
  static List<String> codePointPieces(String text, List<Integer> cuts) {
    int[] cps = text.codePoints().toArray();
    List<Integer> at = new ArrayList<>();
    for (int c : cuts) {
      at.add(c % (cps.length + 1));
    }
    at.sort(Integer::compare);
    List<String> out = new ArrayList<>();
    int from = 0;
    for (int p : at) {
      out.add(new String(cps, from, p - from));
      from = p;
    }
    out.add(new String(cps, from, cps.length - from));
    out.removeIf(String::isEmpty);
    return out;
  }

  static List<byte[]> slices(byte[] in, List<Integer> cuts) {
    List<Integer> at = new ArrayList<>();
    for (int c : cuts) {
      at.add(c % (in.length + 1));
    }
    at.sort(Integer::compare);
    List<byte[]> out = new ArrayList<>();
    int from = 0;
    for (int p : at) {
      out.add(java.util.Arrays.copyOfRange(in, from, p));
      from = p;
    }
    out.add(java.util.Arrays.copyOfRange(in, from, in.length));
    return out;
  }
}
