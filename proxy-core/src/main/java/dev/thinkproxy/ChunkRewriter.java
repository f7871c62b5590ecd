package dev.thinkproxy;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Rewrites the JSON of {@code chat.completion.chunk} events: one {@link ThinkTagProcessor} per choice index,
 * the envelope kept intact. Owns the JSON shape; the processor owns the text and the relay owns the bytes.
 *
 * <p>Placement rules: when one upstream event yields several pieces for a choice (reasoning, then content),
 * each piece becomes its own event with the same envelope, reasoning first. Fields other than text (role,
 * tool calls, refusal) ride on the first piece, {@code finish_reason} on the last, {@code logprobs} on the
 * first; top-level fields such as {@code usage} stay on the last event. Held-back text is released before a
 * choice's tool calls and finish, and for every choice by {@link #flushAll()}.
 *
 * <p>Not thread-safe: one instance per response.
 */
final class ChunkRewriter {
  private static final String CONTENT = "content";
  private static final String REASONING_CONTENT = "reasoning_content";
  private static final String REASONING = "reasoning";
  private static final byte[] EMPTY = new byte[0];
  private static final byte[] CONTENT_EMPTY = "\"content\":\"\"".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] CONTENT_NULL = "\"content\":null".getBytes(StandardCharsets.US_ASCII);
  private static final List<String> ENVELOPE = List.of("id", "object", "created", "model", "system_fingerprint");

  private final ThinkOptions options;
  private final ThinkMode mode;
  private final boolean implicitOpen;
  private final Map<Integer, Choice> choices = new HashMap<>();
  private final JsonNodeFactory nodes = JsonNodeFactory.instance;
  private final ChunkScanner scanner;
  private final ObjectWriter writer;
  /**
   * The last chunk seen while text is held; its envelope goes on the events that release it. Parsed only when
   * such an event is made, which is rare: text is held for a few tokens at a time, and usually released by an
   * upstream event that carries the envelope itself.
   */
  private ChunkScanner.Chunk lastChunk;

  /** State of one choice index. */
  private final class Choice {
    final int index;
    ThinkTagProcessor processor;
    /** The upstream separates reasoning itself: no tag parsing for this choice any more. */
    boolean nativeReasoning;
    boolean finished;
    boolean wrapOpen;

    Choice(int index) {
      this.index = index;
    }

    ThinkTagProcessor processor() {
      if (processor == null) {
        processor = options.newProcessor(implicitOpen);
      }
      return processor;
    }

    /** Releases held text, and after that passes text through without parsing. */
    List<ThinkTagProcessor.Segment> endParsing() {
      nativeReasoning = true;
      return processor == null ? List.of() : processor.finish();
    }
  }

  /** A run of output text for one choice. */
  private record Piece(boolean reasoning, String text) {}

  /**
   * The output of one changed choice: its pieces, whether tool calls and the finish ride on the last one, and how
   * many events it makes (one per piece; one for its other fields when all its text was held back, if it has any).
   */
  private record Plan(List<Piece> pieces, boolean extrasOnLast, int events) {}

  ChunkRewriter(ThinkOptions options, ThinkMode mode, boolean implicitOpen, ObjectMapper mapper) {
    this(options, mode, implicitOpen, mapper, Endpoint.CHAT_COMPLETIONS, ResponseObserver.NONE);
  }

  ChunkRewriter(ThinkOptions options, ThinkMode mode, boolean implicitOpen, ObjectMapper mapper, Endpoint endpoint,
      ResponseObserver observer) {
    this.options = options;
    this.mode = mode;
    this.implicitOpen = implicitOpen;
    this.scanner = new ChunkScanner(mapper);
    this.writer = mapper.writer();
  }

  /** Scans an event's payload; null when it is not a JSON object (such an event is forwarded as it came). */
  ChunkScanner.Chunk scan(byte[] payload, int offset, int length) {
    return scanner.scan(payload, offset, length);
  }

  /**
   * Rewrites one scanned event payload. Most events come out unchanged and cost only the scan; an event whose
   * only choice gets a new delta is spliced into the bytes it came as; anything else is rebuilt from a tree.
   *
   * @return null when the event is to be forwarded byte for byte; otherwise the JSON payloads to send instead,
   *     in order (empty when the event carried nothing but held-back text)
   */
  List<byte[]> rewrite(ChunkScanner.Chunk chunk) {
    List<ChunkScanner.ChoiceFields> scanned = chunk.choices;
    if (scanned == null) {
      return null;
    }
    List<Plan> plans = null;
    int events = 0;
    for (ChunkScanner.ChoiceFields f : scanned) {
      Plan plan = f.object ? planChoice(f, chunk) : null;
      if (plan != null && plans == null) {
        plans = new ArrayList<>(scanned.size());
        for (int k = 0; k < f.position; k++) {
          plans.add(null);
        }
      }
      if (plans != null) {
        plans.add(plan);
      }
      events = Math.max(events, plan == null ? 1 : plan.events());
    }
    rememberEnvelope(chunk);
    if (plans == null) {
      return null;
    }
    if (events == 0 && !chunk.usage) {
      return List.of();
    }
    if (events == 1 && chunk.spliceable()) {
      byte[] spliced = splice(chunk, scanned.get(0), plans.get(0));
      if (spliced != null) {
        return List.of(spliced);
      }
    }
    return rebuild(chunk.tree(), plans);
  }

  /** Builds the output events of a changed chunk from its tree. */
  private List<byte[]> rebuild(ObjectNode tree, List<Plan> plans) {
    ArrayNode upstreamChoices = (ArrayNode) tree.get("choices");
    List<List<ObjectNode>> perChoice = new ArrayList<>(upstreamChoices.size());
    int events = 0;
    for (int position = 0; position < upstreamChoices.size(); position++) {
      JsonNode c = upstreamChoices.get(position);
      Plan plan = plans.get(position);
      List<ObjectNode> out;
      if (plan == null) {
        out = List.of(c instanceof ObjectNode ? (ObjectNode) c : nodes.objectNode());
      } else {
        JsonNode delta = c.get("delta");
        out = buildChoice((ObjectNode) c, delta instanceof ObjectNode ? (ObjectNode) delta : nodes.objectNode(),
            plan.pieces(), plan.extrasOnLast());
      }
      perChoice.add(out);
      events = Math.max(events, out.size());
    }
    int count = Math.max(events, 1);
    List<byte[]> result = new ArrayList<>(count);
    for (int e = 0; e < count; e++) {
      ArrayNode arr = nodes.arrayNode();
      for (List<ObjectNode> l : perChoice) {
        if (e < l.size()) {
          arr.add(l.get(e));
        }
      }
      result.add(serialise(e == count - 1 ? withChoices(tree, arr) : envelope(tree, arr)));
    }
    return result;
  }

  /**
   * The event with the one changed choice's delta rewritten in place, every other byte as it came; the same
   * JSON {@link #buildChoice} makes for a single piece. Null when the change needs the tree.
   */
  private byte[] splice(ChunkScanner.Chunk chunk, ChunkScanner.ChoiceFields f, Plan plan) {
    if (plan.extrasOnLast() || plan.pieces().size() > 1
        || !isTextOrNothing(f.content) || !isTextOrNothing(f.reasoningContent) || !isTextOrNothing(f.reasoning)) {
      return null;
    }
    Piece p = plan.pieces().isEmpty() ? new Piece(false, "") : plan.pieces().get(0);
    String field = options.reasoningField();
    if (p.reasoning() && !field.equals(REASONING_CONTENT) && !field.equals(REASONING)) {
      return null; // the field may already be among the members copied as they came
    }
    // What the content member becomes when the piece leaves no text in it: "" stays "", null stays null.
    byte[] emptied = f.content == ChunkScanner.Kind.ABSENT ? null
        : f.content == ChunkScanner.Kind.NULL ? CONTENT_NULL : CONTENT_EMPTY;
    byte[] contentMember = emptied;
    byte[] tail = EMPTY;
    if (p.reasoning()) {
      tail = member(field, p.text());
    } else if (!p.text().isEmpty()) {
      byte[] content = member(CONTENT, p.text());
      if (f.content == ChunkScanner.Kind.ABSENT) {
        contentMember = null;
        tail = content;
      } else {
        contentMember = content;
      }
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream(chunk.length() + p.text().length() + 32);
    chunk.writeWithDelta(out, f, contentMember, tail);
    return out.toByteArray();
  }

  /** A delta member {@code "name":"text"}, escaped as the mapper escapes it. */
  private static byte[] member(String name, String text) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(name.length() + text.length() + 8);
    ChunkScanner.writeString(out, name);
    out.write(':');
    ChunkScanner.writeString(out, text);
    return out.toByteArray();
  }

  /** Releases every choice's held text (at {@code [DONE]}, at the end of the stream, before an error event). */
  List<byte[]> flushAll() {
    List<byte[]> out = new ArrayList<>();
    for (Choice choice : choices.values()) {
      if (choice.finished) {
        continue;
      }
      List<Piece> pieces = new ArrayList<>();
      if (mode == ThinkMode.WRAP) {
        addWrapClose(choice, pieces);
      } else {
        addSegments(pieces, choice.endParsing());
        strip(pieces);
      }
      choice.finished = true;
      for (Piece p : pieces) {
        ObjectNode delta = nodes.objectNode();
        delta.put(p.reasoning() ? options.reasoningField() : CONTENT, p.text());
        ObjectNode c = nodes.objectNode();
        c.put("index", choice.index);
        c.set("delta", delta);
        c.putNull("finish_reason");
        ArrayNode arr = nodes.arrayNode();
        arr.add(c);
        out.add(serialise(envelope(lastChunk == null ? nodes.objectNode() : lastChunk.tree(), arr)));
      }
    }
    return out;
  }

  private byte[] serialise(ObjectNode payload) {
    try {
      return writer.writeValueAsBytes(payload);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("serialising a chunk failed", e);
    }
  }

  /**
   * Keeps the last chunk while some choice holds text back, for the envelope of the events {@link #flushAll()}
   * makes up; while nothing is held nothing is kept.
   */
  private void rememberEnvelope(ChunkScanner.Chunk chunk) {
    lastChunk = null;
    for (Choice choice : choices.values()) {
      if (!choice.finished && (choice.wrapOpen || (choice.processor != null && choice.processor.holdsText()))) {
        lastChunk = chunk.detached();
        return;
      }
    }
  }

  /** What one choice becomes: null when it is unchanged, else its output pieces (possibly none). */
  private Plan planChoice(ChunkScanner.ChoiceFields f, ChunkScanner.Chunk chunk) {
    Choice choice = choices.computeIfAbsent(f.index, Choice::new);
    if (choice.finished) {
      return null;
    }
    boolean finishing = !f.finishReason.isEmpty();
    if (!f.delta) {
      if (finishing) {
        List<Piece> pieces = new ArrayList<>();
        if (mode == ThinkMode.WRAP) {
          addWrapClose(choice, pieces);
        } else {
          addSegments(pieces, choice.endParsing());
        }
        choice.finished = true;
        strip(pieces);
        return pieces.isEmpty() ? null : new Plan(pieces, false, pieces.size());
      }
      return null;
    }
    String nativeText = nativeReasoning(f.reasoningContentText, f.reasoningText);
    boolean hasNativeKeys = f.reasoningContent != ChunkScanner.Kind.ABSENT || f.reasoning != ChunkScanner.Kind.ABSENT;
    boolean textContent = f.content == ChunkScanner.Kind.TEXT;
    boolean endsText = finishing || f.toolCalls || f.functionCall;

    List<Piece> pieces = new ArrayList<>();
    boolean extrasOnLast = false;
    String arrayReasoning = null;
    String arrayContent = null;
    if (f.content == ChunkScanner.Kind.ARRAY) {
      StringBuilder r = new StringBuilder();
      StringBuilder t = new StringBuilder();
      ArrayNode parts = (ArrayNode) chunk.tree().get("choices").get(f.position).get("delta").get(CONTENT);
      if (!splitParts(parts, r, t)) {
        return null; // unknown part types: leave the event as it came
      }
      arrayReasoning = r.toString();
      arrayContent = t.toString();
    }

    if (mode == ThinkMode.WRAP) {
      String reasoning = concat(nativeText, arrayReasoning);
      String text = textContent ? f.contentText : arrayContent == null ? "" : arrayContent;
      if (reasoning.isEmpty() && !choice.wrapOpen && !hasNativeKeys && arrayReasoning == null) {
        if (finishing) {
          choice.finished = true;
        }
        return null;
      }
      if (!reasoning.isEmpty()) {
        pieces.add(new Piece(false, (choice.wrapOpen ? "" : wrapOpen()) + reasoning));
        choice.wrapOpen = true;
      }
      if (!text.isEmpty()) {
        if (choice.wrapOpen) {
          choice.wrapOpen = false;
          text = wrapClose() + text;
        }
        pieces.add(new Piece(false, text));
      }
      if (endsText && choice.wrapOpen) {
        addWrapClose(choice, pieces);
        extrasOnLast = true;
        pieces.add(new Piece(false, ""));
      }
    } else {
      if (!nativeText.isEmpty() || arrayReasoning != null) {
        addSegments(pieces, choice.endParsing());
        pieces.add(new Piece(true, concat(nativeText, arrayReasoning)));
      }
      if (textContent && !f.contentText.isEmpty()) {
        if (choice.nativeReasoning) {
          pieces.add(new Piece(false, f.contentText));
        } else {
          addSegments(pieces, choice.processor().feed(f.contentText));
        }
      } else if (arrayContent != null && !arrayContent.isEmpty()) {
        pieces.add(new Piece(false, arrayContent));
      }
      if (endsText) {
        addSegments(pieces, choice.endParsing());
      }
      pieces = merge(strip(pieces));
      if (arrayReasoning == null && isUnchanged(f, pieces)) {
        if (finishing) {
          choice.finished = true;
        }
        return null;
      }
    }
    if (finishing) {
      choice.finished = true;
    }
    boolean extras = f.otherFields || finishing || f.logprobs;
    return new Plan(pieces, extrasOnLast, pieces.isEmpty() ? (extras ? 1 : 0) : pieces.size());
  }

  /** In strip mode reasoning goes nowhere, and neither do the empty pieces that leaves. */
  private List<Piece> strip(List<Piece> pieces) {
    if (mode == ThinkMode.STRIP) {
      pieces.removeIf(p -> p.reasoning() || p.text().isEmpty());
    }
    return pieces;
  }

  /**
   * Whether the pieces say exactly what the delta already says: its reasoning, if any, in the configured field,
   * then its content. Such an event is forwarded byte for byte, without re-serialising it.
   */
  private boolean isUnchanged(ChunkScanner.ChoiceFields f, List<Piece> pieces) {
    boolean configuredIsReasoningContent = options.reasoningField().equals(REASONING_CONTENT);
    ChunkScanner.Kind other = configuredIsReasoningContent ? f.reasoning : f.reasoningContent;
    ChunkScanner.Kind reasoning = configuredIsReasoningContent ? f.reasoningContent : f.reasoning;
    String reasoningIn = configuredIsReasoningContent ? f.reasoningContentText : f.reasoningText;
    // Only the configured field may appear in the output, and none at all in strip mode.
    if (other != ChunkScanner.Kind.ABSENT
        || (mode == ThinkMode.STRIP && reasoning != ChunkScanner.Kind.ABSENT)
        || !isTextOrNothing(reasoning) || !isTextOrNothing(f.content)) {
      return false;
    }
    String reasoningText = "";
    String contentText = "";
    int k = 0;
    if (k < pieces.size() && pieces.get(k).reasoning()) {
      reasoningText = pieces.get(k++).text();
    }
    if (k < pieces.size() && !pieces.get(k).reasoning()) {
      contentText = pieces.get(k++).text();
    }
    return k == pieces.size() && reasoningText.equals(reasoningIn) && contentText.equals(f.contentText);
  }

  private static boolean isTextOrNothing(ChunkScanner.Kind kind) {
    return kind == ChunkScanner.Kind.ABSENT || kind == ChunkScanner.Kind.NULL || kind == ChunkScanner.Kind.TEXT;
  }

  /** Turns the pieces of one choice into output choices, one per piece, in order. */
  private List<ObjectNode> buildChoice(ObjectNode c, ObjectNode delta, List<Piece> pieces, boolean extrasOnLast) {
    boolean hasExtras = hasNonTextFields(delta) || !c.path("finish_reason").asText("").isEmpty()
        || (c.has("logprobs") && !c.get("logprobs").isNull());
    if (pieces.isEmpty()) {
      if (!hasExtras) {
        return List.of();
      }
      pieces = List.of(new Piece(false, ""));
    }
    int carrier = extrasOnLast ? pieces.size() - 1 : 0;
    List<ObjectNode> out = new ArrayList<>(pieces.size());
    for (int k = 0; k < pieces.size(); k++) {
      Piece p = pieces.get(k);
      ObjectNode d = k == carrier ? delta.deepCopy() : nodes.objectNode();
      if (carrier != 0 && delta.hasNonNull("role")) {
        // Tool calls and the finish follow the closing tag, but the role still opens the choice's output.
        if (k == 0) {
          d.set("role", delta.get("role"));
        } else if (k == carrier) {
          d.remove("role");
        }
      }
      d.remove(REASONING_CONTENT);
      d.remove(REASONING);
      if (p.reasoning()) {
        if (delta.has(CONTENT) && !delta.get(CONTENT).isNull()) {
          d.put(CONTENT, "");
        } else if (delta.has(CONTENT)) {
          d.putNull(CONTENT);
        }
        d.put(options.reasoningField(), p.text());
      } else if (!p.text().isEmpty() || k != carrier) {
        d.put(CONTENT, p.text());
      } else if (delta.has(CONTENT) && !delta.get(CONTENT).isNull()) {
        d.put(CONTENT, ""); // all of its text was held back or moved
      }
      ObjectNode choice = nodes.objectNode();
      Iterator<Map.Entry<String, JsonNode>> fields = c.fields();
      while (fields.hasNext()) {
        Map.Entry<String, JsonNode> f = fields.next();
        switch (f.getKey()) {
          case "delta":
            choice.set("delta", d);
            break;
          case "finish_reason":
            if (k == pieces.size() - 1) {
              choice.set("finish_reason", f.getValue());
            } else {
              choice.putNull("finish_reason");
            }
            break;
          case "logprobs":
            if (k == 0) {
              choice.set("logprobs", f.getValue());
            } else {
              choice.putNull("logprobs");
            }
            break;
          default:
            choice.set(f.getKey(), f.getValue());
        }
      }
      if (!choice.has("delta")) {
        choice.set("delta", d);
      }
      out.add(choice);
    }
    return out;
  }

  private static boolean hasNonTextFields(ObjectNode delta) {
    Iterator<Map.Entry<String, JsonNode>> it = delta.fields();
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> f = it.next();
      String k = f.getKey();
      if (!k.equals(CONTENT) && !k.equals(REASONING_CONTENT) && !k.equals(REASONING) && !f.getValue().isNull()) {
        return true;
      }
    }
    return false;
  }

  /** The reasoning text a delta or message carries natively; both fields with equal text count once. */
  static String nativeReasoning(ObjectNode delta) {
    JsonNode rc = delta.get(REASONING_CONTENT);
    JsonNode r = delta.get(REASONING);
    return nativeReasoning(rc != null && rc.isTextual() ? rc.asText() : "", r != null && r.isTextual() ? r.asText() : "");
  }

  private static String nativeReasoning(String reasoningContent, String reasoning) {
    return reasoningContent.equals(reasoning) ? reasoningContent : reasoningContent + reasoning;
  }

  /**
   * Splits Mistral-style typed content parts into reasoning ({@code thinking}) and text. Returns false for a part
   * it does not know, so the caller leaves the event untouched.
   */
  static boolean splitParts(ArrayNode parts, StringBuilder reasoning, StringBuilder text) {
    for (JsonNode part : parts) {
      String type = part.path("type").asText("");
      if (type.equals("text") && part.path("text").isTextual()) {
        text.append(part.get("text").asText());
      } else if (type.equals("thinking")) {
        JsonNode thinking = part.get("thinking");
        if (thinking != null && thinking.isTextual()) {
          reasoning.append(thinking.asText());
        } else if (thinking instanceof ArrayNode) {
          for (JsonNode inner : thinking) {
            if (inner.path("text").isTextual()) {
              reasoning.append(inner.get("text").asText());
            }
          }
        } else {
          return false;
        }
      } else {
        return false;
      }
    }
    return true;
  }

  private static void addSegments(List<Piece> pieces, List<ThinkTagProcessor.Segment> segments) {
    for (ThinkTagProcessor.Segment s : segments) {
      pieces.add(new Piece(s.kind() == ThinkTagProcessor.Kind.REASONING, s.text()));
    }
  }

  private void addWrapClose(Choice choice, List<Piece> pieces) {
    if (choice.wrapOpen) {
      choice.wrapOpen = false;
      pieces.add(new Piece(false, wrapClose()));
    }
  }

  private String wrapOpen() {
    return options.tags().get(0).open() + "\n";
  }

  private String wrapClose() {
    return "\n" + options.tags().get(0).close() + "\n\n";
  }

  private static List<Piece> merge(List<Piece> pieces) {
    if (pieces.size() < 2) {
      return pieces;
    }
    List<Piece> out = new ArrayList<>(pieces.size());
    for (Piece p : pieces) {
      int last = out.size() - 1;
      if (last >= 0 && out.get(last).reasoning() == p.reasoning()) {
        out.set(last, new Piece(p.reasoning(), out.get(last).text() + p.text()));
      } else {
        out.add(p);
      }
    }
    return out;
  }

  private static String concat(String a, String b) {
    return b == null ? a : a + b;
  }

  /** Only the envelope fields of {@code chunk}, with the given choices. */
  private ObjectNode envelope(ObjectNode chunk, ArrayNode choicesArr) {
    ObjectNode out = nodes.objectNode();
    Iterator<Map.Entry<String, JsonNode>> it = chunk.fields();
    boolean placed = false;
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> f = it.next();
      if (f.getKey().equals("choices")) {
        out.set("choices", choicesArr);
        placed = true;
      } else if (ENVELOPE.contains(f.getKey())) {
        out.set(f.getKey(), f.getValue());
      }
    }
    if (!placed) {
      out.set("choices", choicesArr);
    }
    return out;
  }

  /** All fields of {@code chunk}, in order, with its choices replaced. */
  private ObjectNode withChoices(ObjectNode chunk, ArrayNode choicesArr) {
    ObjectNode out = nodes.objectNode();
    Iterator<Map.Entry<String, JsonNode>> it = chunk.fields();
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> f = it.next();
      out.set(f.getKey(), f.getKey().equals("choices") ? choicesArr : f.getValue());
    }
    return out;
  }
}
