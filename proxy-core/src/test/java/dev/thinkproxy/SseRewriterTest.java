package dev.thinkproxy;

import static dev.thinkproxy.Chunks.choice;
import static dev.thinkproxy.Chunks.chunk;
import static dev.thinkproxy.Chunks.content;
import static dev.thinkproxy.Chunks.contentDelta;
import static dev.thinkproxy.Chunks.delta;
import static dev.thinkproxy.Chunks.event;
import static dev.thinkproxy.Chunks.finish;
import static dev.thinkproxy.Chunks.role;
import static dev.thinkproxy.Chunks.stream;
import static dev.thinkproxy.Sse.bytes;
import static dev.thinkproxy.Sse.str;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/** The event-stream relay: split into lines and events, rewrite chunks, everything else byte for byte. */
class SseRewriterTest {

  private static final String THINK_STREAM = stream(
      role(0),
      content("<think>"),
      content("\nLet me"),
      content(" think.</th"),
      content("ink>\n\nThe answer"),
      content(" is 42."),
      finish(0, "stop"),
      "[DONE]");

  private static byte[] rewrite(String upstream) {
    return Sse.run(Sse.splitRewriter(), bytes(upstream));
  }

  private static List<JsonNode> chunksOf(byte[] out) {
    return Sse.jsonEvents(Sse.parse(out));
  }

  @Nested
  class InlineThinkTags {

    @Test
    void inlineThinkIsSplitIntoReasoningDeltasAndCleanContent() {
      Map<Integer, Sse.Text> text = Sse.clientText(rewrite(THINK_STREAM));

      assertThat(text).containsOnlyKeys(0);
      assertThat(text.get(0).reasoning()).isEqualTo("Let me think.");
      assertThat(text.get(0).content()).isEqualTo("The answer is 42.");
    }

    @Test
    void noTagTextReachesTheClient() {
      byte[] out = rewrite(THINK_STREAM);

      for (JsonNode c : chunksOf(out)) {
        assertThat(c.toString()).doesNotContain("<think>").doesNotContain("</th").doesNotContain("ink>");
      }
    }

    @Test
    void everyEventKeepsTheEnvelope() {
      for (JsonNode c : chunksOf(rewrite(THINK_STREAM))) {
        assertThat(c.path("id").asText()).isEqualTo(Chunks.ID);
        assertThat(c.path("object").asText()).isEqualTo("chat.completion.chunk");
        assertThat(c.path("model").asText()).isEqualTo(Chunks.MODEL);
        assertThat(c.path("created").asLong()).isEqualTo(1770000000L);
        assertThat(c.path("system_fingerprint").asText()).isEqualTo("fp_test");
      }
    }

    @Test
    void eachEventCarriesReasoningOrContentNeverBothAsText() {
      for (JsonNode c : chunksOf(rewrite(THINK_STREAM))) {
        JsonNode d = c.path("choices").path(0).path("delta");
        boolean hasReasoning = !d.path("reasoning_content").asText("").isEmpty();
        boolean hasContent = !d.path("content").asText("").isEmpty();
        assertThat(hasReasoning && hasContent).as("event %s", c).isFalse();
      }
    }

    @Test
    void eventWithTheEndOfReasoningAndTheStartOfContentBecomesTwoEventsReasoningFirst() {
      byte[] out = rewrite(stream(content("<think>plan</think>answer")));

      List<JsonNode> chunks = chunksOf(out);
      assertThat(chunks).hasSize(2);
      assertThat(chunks.get(0).at("/choices/0/delta/reasoning_content").asText()).isEqualTo("plan");
      assertThat(chunks.get(0).at("/choices/0/delta/content").asText()).isEmpty();
      assertThat(chunks.get(1).at("/choices/0/delta/content").asText()).isEqualTo("answer");
      assertThat(chunks.get(1).at("/choices/0/delta").has("reasoning_content")).isFalse();
    }

    @Test
    void roleIsKeptWhenAllTextOfItsEventIsHeldBack() {
      byte[] out = rewrite(stream(chunk(choice(0, delta().put("role", "assistant").put("content", "<thi"), null)),
          content("nk>r</think>c")));

      List<JsonNode> chunks = chunksOf(out);
      assertThat(chunks.get(0).at("/choices/0/delta/role").asText()).isEqualTo("assistant");
      assertThat(chunks.get(0).at("/choices/0/delta/content").asText()).isEmpty();
      assertThat(Sse.clientText(out).get(0)).isEqualTo(new Sse.Text("r", "c"));
    }

    @Test
    void roleRidesOnTheFirstEventOnly() {
      byte[] out = rewrite(stream(chunk(choice(0, delta().put("role", "assistant").put("content", "<think>a</think>b"),
          null))));

      List<JsonNode> chunks = chunksOf(out);
      assertThat(chunks).hasSize(2);
      assertThat(chunks.get(0).at("/choices/0/delta/role").asText()).isEqualTo("assistant");
      assertThat(chunks.get(1).at("/choices/0/delta").has("role")).isFalse();
    }

    @Test
    void eventWhoseTextIsAllHeldBackIsNotSent() {
      byte[] out = rewrite(stream(content("answer"), content(" </thi")));

      assertThat(chunksOf(out).stream().filter(c -> c.at("/choices/0/delta/content").asText().equals(" "))).hasSize(1);
      assertThat(Sse.clientText(out).get(0).content()).isEqualTo("answer </thi");
    }

    @Test
    void heldTextIsReleasedBeforeTheFinishReasonAndTheFinishReasonIsOnTheLastEvent() {
      byte[] out = rewrite(stream(content("<think>abc</thi"), finish(0, "length"), "[DONE]"));

      List<JsonNode> chunks = chunksOf(out);
      JsonNode last = chunks.get(chunks.size() - 1);
      assertThat(last.at("/choices/0/finish_reason").asText()).isEqualTo("length");
      assertThat(Sse.clientText(out).get(0)).isEqualTo(new Sse.Text("abc</thi", ""));
      for (JsonNode c : chunks.subList(0, chunks.size() - 1)) {
        assertThat(c.at("/choices/0/finish_reason").isNull()).isTrue();
      }
    }

    @Test
    void emptyFinishReasonDoesNotEndTheChoice() {
      byte[] out = rewrite(stream(chunk(choice(0, contentDelta("<think>a"), "")),
          chunk(choice(0, contentDelta("</think>b"), "")), finish(0, "stop")));

      assertThat(Sse.clientText(out).get(0)).isEqualTo(new Sse.Text("a", "b"));
    }

    @Test
    void heldTextIsReleasedBeforeToolCalls() {
      JsonNode toolCalls = Sse.MAPPER.createArrayNode().add(Sse.MAPPER.createObjectNode().put("index", 0)
          .put("id", "call_1").put("type", "function"));
      byte[] out = rewrite(stream(content("<think>I will call a tool "), chunk(choice(0,
          (com.fasterxml.jackson.databind.node.ObjectNode) delta().set("tool_calls", toolCalls), null)),
          finish(0, "tool_calls")));

      List<JsonNode> chunks = chunksOf(out);
      assertThat(Sse.clientText(out).get(0).reasoning()).isEqualTo("I will call a tool");
      assertThat(chunks).anySatisfy(c -> assertThat(c.at("/choices/0/delta/tool_calls/0/id").asText())
          .isEqualTo("call_1"));
    }

    @Test
    void doneReleasesHeldTextForEveryChoiceBeforeItIsForwarded() {
      byte[] out = rewrite(stream(content(0, "<think>zero"), content(1, "one <"), "[DONE]"));

      List<Sse.Event> events = Sse.parse(out);
      assertThat(events.get(events.size() - 1).isDone()).isTrue();
      Map<Integer, Sse.Text> text = Sse.clientText(out);
      assertThat(text.get(0)).isEqualTo(new Sse.Text("zero", ""));
      assertThat(text.get(1)).isEqualTo(new Sse.Text("", "one <"));
    }

    @Test
    void choicesKeepSeparateStateByIndex() {
      byte[] out = rewrite(stream(content(0, "<think>a"), content(1, "plain <think>literal"), content(0, "</think>b"),
          content(1, "</think> end"), finish(0, "stop"), finish(1, "stop")));

      Map<Integer, Sse.Text> text = Sse.clientText(out);
      assertThat(text.get(0)).isEqualTo(new Sse.Text("a", "b"));
      assertThat(text.get(1)).isEqualTo(new Sse.Text("", "plain <think>literal</think> end"));
    }

    @Test
    void twoChoicesInOneEventAreRewrittenIndependently() {
      byte[] out = rewrite(stream(chunk(choice(0, contentDelta("<think>r0</think>c0"), null),
          choice(1, contentDelta("c1"), null))));

      Map<Integer, Sse.Text> text = Sse.clientText(out);
      assertThat(text.get(0)).isEqualTo(new Sse.Text("r0", "c0"));
      assertThat(text.get(1)).isEqualTo(new Sse.Text("", "c1"));
    }

    @Test
    void errorEventIsPrecededByTheReleaseOfHeldTextAndForwardedVerbatim() {
      String error = "data: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}\n\n";
      byte[] out = rewrite(stream(content("answer <")) + error);

      String s = str(out);
      assertThat(s).endsWith(error);
      assertThat(Sse.clientText(out).get(0).content()).isEqualTo("answer <");
    }
  }

  @Nested
  class Passthrough {

    @Test
    void streamWithoutTagsComesOutByteForByte() {
      String upstream = stream(role(0), content("Hello"), content(" world <b>bold</b>"), finish(0, "stop"), "[DONE]");

      assertThat(str(rewrite(upstream))).isEqualTo(upstream);
    }

    @Test
    void eventsWeDoNotChangeComeOutByteForByteAndInOrder() {
      String upstream = ": OPENROUTER PROCESSING\n\n"
          + ": keep-alive\n"
          + "event: message\nid: 7\nretry: 1000\n" + event(content("plain text"))
          + "data: not json at all\n\n"
          + "data: [1,2,3]\n\n"
          + "data: {\"object\":\"something.else\"}\n\n"
          + event("{\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":1,"
              + "\"completion_tokens\":2,\"total_tokens\":3,\"cost\":0.00012345678901234567890}}")
          + "id: 8\n\n"
          + "data: [DONE]\n\n";

      assertThat(str(rewrite(upstream))).isEqualTo(upstream);
    }

    @Test
    void unknownFieldsOfAnUnchangedEventKeepTheirExactBytes() {
      String payload = "{\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"caf\\u00e9\"},"
          + "\"finish_reason\":null}],\"x_groq\":{\"id\":\"req_1\"},\"obfuscation\":\"abc\",\"n\":1.50}";
      String upstream = event(payload);

      assertThat(str(rewrite(upstream))).isEqualTo(upstream);
    }

    @Test
    void commentBetweenRewrittenEventsKeepsItsPlace() {
      byte[] out = rewrite(stream(content("<think>a")) + ": ping\n\n" + stream(content("</think>b")));

      List<Sse.Event> events = Sse.parse(out);
      assertThat(events).extracting(e -> e.lines().get(0)).anyMatch(l -> l.equals(": ping"));
      int ping = -1;
      for (int i = 0; i < events.size(); i++) {
        if (events.get(i).lines().get(0).equals(": ping")) {
          ping = i;
        }
      }
      assertThat(events.get(ping - 1).json().at("/choices/0/delta/reasoning_content").asText()).isEqualTo("a");
      assertThat(events.get(ping + 1).json().at("/choices/0/delta/content").asText()).isEqualTo("b");
    }

    @Test
    void eventAndIdLinesOfARewrittenEventAreKeptBeforeIt() {
      byte[] out = rewrite("event: delta\nid: 42\n" + event(content("<think>r</think>c")));

      String s = str(out);
      assertThat(s).startsWith("event: delta\nid: 42\ndata: ");
      assertThat(Sse.clientText(out).get(0)).isEqualTo(new Sse.Text("r", "c"));
    }

    @Test
    void usageOnlyChunkAfterTheFinishIsForwardedUnchanged() {
      String usage = "{\"id\":\"x\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":7}}";
      String upstream = stream(content("<think>a</think>b"), finish(0, "stop"), usage, "[DONE]");

      String out = str(rewrite(upstream));
      assertThat(out).contains(event(usage)).endsWith("data: [DONE]\n\n");
    }

    @Test
    void eventForAFinishedChoiceIsForwardedUnchanged() {
      // OpenRouter sends usage in a chunk after the finish, with a non-empty choice and null reasoning keys.
      com.fasterxml.jackson.databind.node.ObjectNode d = contentDelta("<think>not parsed");
      d.putNull("reasoning");
      d.putArray("reasoning_details");
      String late = chunk(choice(0, d, null));
      String out = str(rewrite(stream(content("x"), finish(0, "stop"), late)));

      assertThat(out).endsWith(event(late));
    }
  }

  @Nested
  class Framing {

    @Test
    void dataWithoutASpaceIsAccepted() {
      String upstream = "data:" + content("<think>r</think>c") + "\n\n";

      assertThat(Sse.clientText(rewrite(upstream)).get(0)).isEqualTo(new Sse.Text("r", "c"));
    }

    @Test
    void crlfLineEndsAreAccepted() {
      String upstream = THINK_STREAM.replace("\n", "\r\n");

      byte[] out = rewrite(upstream);
      assertThat(Sse.clientText(out).get(0)).isEqualTo(new Sse.Text("Let me think.", "The answer is 42."));
      assertThat(str(out)).endsWith("data: [DONE]\r\n\r\n");
    }

    @Test
    void crOnlyLineEndsAreAccepted() {
      String upstream = THINK_STREAM.replace("\n", "\r");

      byte[] out = rewrite(upstream);
      assertThat(Sse.clientText(out).get(0)).isEqualTo(new Sse.Text("Let me think.", "The answer is 42."));
      assertThat(str(out)).endsWith("data: [DONE]\r\r");
    }

    @Test
    void crlfMultiLineDataIsJoined() {
      String payload = content("<think>r</think>c");
      int mid = payload.indexOf(",\"choices\"");
      String upstream = "event: chunk\r\ndata: " + payload.substring(0, mid) + "\r\ndata: " + payload.substring(mid)
          + "\r\n\r\n";

      byte[] out = rewrite(upstream);
      assertThat(Sse.clientText(out).get(0)).isEqualTo(new Sse.Text("r", "c"));
      assertThat(str(out)).startsWith("event: chunk\r\ndata: ");
    }

    @Test
    void crlfSplitBetweenCrAndLfIsOneLineEnd() {
      String payload = content("<think>r</think>c");
      int mid = payload.indexOf(",\"choices\"");
      byte[] in = bytes("data: " + payload.substring(0, mid) + "\r\ndata: " + payload.substring(mid) + "\r\n\r\n");
      int cr = str(in).indexOf('\r') + 1;

      byte[] out = Sse.runCut(Sse.splitRewriter(), in, cr, cr + 2, cr + 3);
      assertThat(Sse.clientText(out).get(0)).isEqualTo(new Sse.Text("r", "c"));
    }

    @Test
    void unchangedEventWithCrlfKeepsItsCrlf() {
      String upstream = ": hi\r\n\r\n" + event(content("plain")).replace("\n", "\r\n");

      assertThat(str(rewrite(upstream))).isEqualTo(upstream);
    }

    @Test
    void multiLineDataIsJoinedWithNewlines() {
      String payload = content("<think>r</think>c");
      int mid = payload.indexOf(",\"choices\"");
      String upstream = "data: " + payload.substring(0, mid) + "\ndata: " + payload.substring(mid) + "\n\n";

      assertThat(Sse.clientText(rewrite(upstream)).get(0)).isEqualTo(new Sse.Text("r", "c"));
    }

    @Test
    void streamEndingWithoutDoneReleasesHeldText() {
      byte[] out = rewrite(stream(content("<think>unfinished"), content(" thought </thi")));

      assertThat(Sse.clientText(out).get(0)).isEqualTo(new Sse.Text("unfinished thought </thi", ""));
      assertThat(str(out)).doesNotContain("[DONE]");
    }

    @Test
    void streamEndingWithoutDoneReleasesHeldContent() {
      byte[] out = rewrite(stream(content("answer"), content(" <")));

      assertThat(Sse.clientText(out).get(0).content()).isEqualTo("answer <");
    }

    @Test
    void streamEndingInTheMiddleOfAnEventProcessesThatEvent() {
      byte[] out = rewrite(event(content("<think>r")) + "data: " + content("</think>c <"));

      assertThat(Sse.clientText(out).get(0)).isEqualTo(new Sse.Text("r", "c <"));
    }

    @Test
    void streamEndingAfterTheLastLineButBeforeTheBlankLineProcessesThatEvent() {
      byte[] out = rewrite(event(content("<think>r")) + "data: " + content("</think>c") + "\n");

      assertThat(Sse.clientText(out).get(0)).isEqualTo(new Sse.Text("r", "c"));
    }

    @Test
    void streamEndingInACrIsProcessed() {
      byte[] out = rewrite(event(content("<think>r")) + "data: " + content("</think>c") + "\r");

      assertThat(Sse.clientText(out).get(0)).isEqualTo(new Sse.Text("r", "c"));
    }

    @Test
    void unchangedEventWithoutItsBlankLineAtTheEndIsDeliveredAsACompleteEvent() {
      // A client discards an event that the stream does not terminate; the rewritten ones are terminated, so an
      // unchanged one must be too, or its text would reach the client only when it happened to contain a tag.
      String last = content("plain text");
      String out = str(rewrite(event(content("a")) + "data: " + last));

      assertThat(out).endsWith("data: " + last + "\n\n");
      assertThat(Sse.clientText(bytes(out)).get(0).content()).isEqualTo("aplain text");
    }

    @Test
    void eventCutOffAtTheEndGoesOutAsCommentsAfterHeldTextSoAFollowingErrorEventStaysIntact() {
      // Exchange finishes the rewriter when the upstream breaks off and then writes its own error event.
      byte[] out = Sse.concat(rewrite(event(content("<think>r")) + "data: {\"id\":\"x\",\r\ndata: \"cut-of"),
          bytes("data: {\"error\":{\"message\":\"upstream reset\"}}\n\n"));

      List<Sse.Event> events = Sse.parse(out);
      Sse.Event last = events.get(events.size() - 1);
      assertThat(last.data()).isEqualTo("{\"error\":{\"message\":\"upstream reset\"}}");
      assertThat(events).extracting(Sse.Event::data).noneMatch(d -> d.contains("cut-of"));
      assertThat(str(out)).contains(": data: {\"id\":\"x\",\r\n: data: \"cut-of\ndata: {\"error\"");
      assertThat(str(out).indexOf("\"r\"")).isLessThan(str(out).indexOf(": data: {\"id\""));
      assertThat(Sse.clientText(out).get(0).reasoning()).isEqualTo("r");
    }

    @Test
    void wholeEventWithoutItsBlankLineIsDispatchedOnACleanEndButKeptAsCommentsWhenTheUpstreamBroke() {
      String lastEvent = "data: " + content("a");
      String upstream = event(content("<think>r</think>")) + lastEvent + "\n";

      byte[] clean = rewrite(upstream);
      ByteArrayOutputStream broken = new ByteArrayOutputStream();
      SseRewriter rewriter = Sse.splitRewriter();
      rewriter.feed(bytes(upstream), 0, bytes(upstream).length, broken);
      rewriter.cutOff(broken);

      assertThat(Sse.clientText(clean).get(0).content()).isEqualTo("a");
      assertThat(str(broken.toByteArray())).endsWith(": " + lastEvent + "\n");
      assertThat(Sse.clientText(broken.toByteArray()).get(0).content()).isEmpty();
    }

    @Test
    void commentLineCutOffByAFaultGoesOutAfterTheHeldText() {
      String upstream = "data: " + content("<think>a<") + "\r\n\r\n: PRO";
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      SseRewriter rewriter = Sse.splitRewriter();
      byte[] in = bytes(upstream);
      for (int i = 0; i < in.length; i++) {
        rewriter.feed(in, i, 1, out);
      }
      rewriter.cutOff(out);

      String text = str(out.toByteArray());
      assertThat(text).endsWith(": PRO\n");
      assertThat(Sse.clientText(out.toByteArray()).get(0).reasoning()).isEqualTo("a<");
    }

    @Test
    void eventEndedByALoneCrJustBeforeAFaultIsDispatchedBeforeHeldTextIsReleased() {
      // A CR alone ends a line, so "\r\n\r" completes the event although the LF that may follow never came.
      String upstream = "data: " + content("<think>ab") + "\r\n\r\n" + "data: " + content("c") + "\r\n\r";
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      SseRewriter rewriter = Sse.splitRewriter();
      rewriter.feed(bytes(upstream), 0, bytes(upstream).length, out);
      rewriter.cutOff(out);

      Sse.Text text = Sse.clientText(out.toByteArray()).get(0);
      assertThat(text.reasoning()).isEqualTo("abc");
      assertThat(text.content()).isEmpty();
    }

    @Test
    void bareDataFieldNameCutOffAtTheEndIsACommentNotAnEmptyEvent() {
      String out = str(rewrite(event(content("a")) + "data"));

      assertThat(out).endsWith(event(content("a")) + ": data\n");
    }

    @Test
    void eventOfABareDataFieldNamePassesUnchanged() {
      String upstream = "data\n\n" + event(content("a"));

      assertThat(str(rewrite(upstream))).isEqualTo(upstream);
    }

    @Test
    void eventLargerThanTheLimitIsRelayedUnchangedAsItArrivesAndEndsTheRewrite() {
      String big = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" + "x".repeat(5000) + "\"}}]}";
      String upstream = event(content("<think>r")) + big + "\r\n\r\n" + event(content("</think>a"));
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      SseRewriter rewriter = new SseRewriter(
          new ChunkRewriter(ThinkOptions.defaults(), ThinkMode.SPLIT, false, Sse.MAPPER), Sse.MAPPER, 1000);
      byte[] in = bytes(upstream);
      // One byte at a time: the CRLF pairs and the blank line that ends the big event arrive in separate pieces.
      for (int i = 0; i < in.length; i++) {
        rewriter.feed(in, i, 1, out);
      }
      rewriter.finish(out);

      // Held text goes out before it; what follows cannot be judged without it, so it passes unchanged too.
      String text = str(out.toByteArray());
      assertThat(text).endsWith(big + "\r\n\r\n" + event(content("</think>a")));
      assertThat(Sse.clientText(out.toByteArray()).get(0).reasoning()).isEqualTo("r");
    }

    @Test
    void commentWithoutLineEndAtTheEndIsTerminated() {
      String out = str(rewrite(event(content("a")) + ": keep-alive"));

      assertThat(out).endsWith(": keep-alive\n");
    }

    @Test
    void everyRewrittenEventIsACompleteSseEvent() {
      String out = str(rewrite(THINK_STREAM));

      assertThat(out).endsWith("\n\n");
      for (Sse.Event e : Sse.parse(bytes(out))) {
        assertThat(e.data()).isNotNull();
      }
    }

    @Test
    void doneSeenIsReported() {
      SseRewriter r = Sse.splitRewriter();
      Sse.run(r, bytes(THINK_STREAM));
      assertThat(r.doneSeen()).isTrue();

      SseRewriter r2 = Sse.splitRewriter();
      Sse.run(r2, bytes(stream(content("x"))));
      assertThat(r2.doneSeen()).isFalse();
    }
  }

  @Nested
  class ByteCuts {

    /** Two choices interleaved, tags split across events, multi-byte UTF-8, data: with and without a space. */
    private final String upstream = ": keep-alive\n\n"
        + stream(role(0), role(1))
        + "data:" + content(0, "<th") + "\n\n"
        + stream(content(1, "Sure: é and 😀 <think>"), content(0, "ink>\n😀 plan é"), content(1, "literal</think>"),
            content(0, " more </thi"), content(0, "nk>\n\nAnswer 😀"))
        + "data:" + content(1, " done") + "\r\n\r\n"
        + stream(finish(0, "stop"), finish(1, "stop"), "[DONE]");

    private final Map<Integer, Sse.Text> expected = Map.of(
        0, new Sse.Text("😀 plan é more", "Answer 😀"),
        1, new Sse.Text("", "Sure: é and 😀 <think>literal</think> done"));

    @Test
    void oneShotGivesTheExpectedTextPerChoice() {
      assertThat(Sse.clientText(rewrite(upstream))).isEqualTo(expected);
    }

    @Test
    void cuttingTheBytesAtEveryPositionGivesTheSameTextPerChoice() {
      byte[] in = bytes(upstream);
      for (int cut = 0; cut <= in.length; cut++) {
        byte[] out = Sse.runCut(Sse.splitRewriter(), in, cut);
        assertThat(Sse.clientText(out)).as("cut at byte %d", cut).isEqualTo(expected);
      }
    }

    @Test
    void cuttingTheBytesAtEveryPositionGivesTheSameOutputBytes() {
      // Events are rewritten only once complete, so where the bytes were cut cannot show in the output at all.
      byte[] in = bytes(upstream);
      String whole = str(rewrite(upstream));
      for (int cut = 0; cut <= in.length; cut++) {
        String out = str(Sse.runCut(Sse.splitRewriter(), in, cut));
        if (!out.equals(whole)) {
          assertThat(out).as("cut at byte %d", cut).isEqualTo(whole);
        }
      }
    }

    @Test
    void cuttingTheBytesAtEveryPairOfNearbyPositionsGivesTheSameOutputBytes() {
      byte[] in = bytes(upstream);
      String whole = str(rewrite(upstream));
      for (int a = 1; a < in.length; a++) {
        for (int b = a + 1; b < Math.min(in.length, a + 4); b++) {
          String out = str(Sse.runCut(Sse.splitRewriter(), in, a, b));
          if (!out.equals(whole)) {
            assertThat(out).as("cuts at %d,%d", a, b).isEqualTo(whole);
          }
        }
      }
    }

    @Test
    void feedingOneByteAtATimeGivesTheSameOutputBytes() {
      byte[] in = bytes(upstream);
      byte[] whole = rewrite(upstream);
      int[] cuts = new int[in.length - 1];
      for (int i = 0; i < cuts.length; i++) {
        cuts[i] = i + 1;
      }
      assertThat(str(Sse.runCut(Sse.splitRewriter(), in, cuts))).isEqualTo(str(whole));
    }

    @Test
    void theStreamReallyCutsInsideMultiByteCharacters() {
      // Guard for the test data: 😀 is 4 bytes, é is 2, so some cut falls inside each.
      assertThat(bytes(upstream).length).isGreaterThan(upstream.length());
    }
  }
}
