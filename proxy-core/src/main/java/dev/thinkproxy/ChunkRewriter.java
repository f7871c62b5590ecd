package dev.thinkproxy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
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
  private static final List<String> ENVELOPE = List.of("id", "object", "created", "model", "system_fingerprint");

  private final ThinkOptions options;
  private final ThinkMode mode;
  private final boolean implicitOpen;
  private final Map<Integer, Choice> choices = new HashMap<>();
  private final JsonNodeFactory nodes = JsonNodeFactory.instance;
  /** The last chunk seen; its envelope is copied into events the proxy makes up when it releases held text. */
  private ObjectNode lastChunk;

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

  ChunkRewriter(ThinkOptions options, ThinkMode mode, boolean implicitOpen) {
    this.options = options;
    this.mode = mode;
    this.implicitOpen = implicitOpen;
  }

  /**
   * Rewrites one parsed event payload.
   *
   * @return null when the event is to be forwarded byte for byte; otherwise the payloads to send instead, in
   *     order (empty when the event carried nothing but held-back text)
   */
  List<ObjectNode> rewrite(ObjectNode chunk) {
    JsonNode choicesNode = chunk.get("choices");
    if (!(choicesNode instanceof ArrayNode)) {
      return null;
    }
    lastChunk = chunk;
    ArrayNode upstreamChoices = (ArrayNode) choicesNode;
    if (upstreamChoices.isEmpty()) {
      return null;
    }
    boolean changed = false;
    List<List<ObjectNode>> perChoice = new ArrayList<>(upstreamChoices.size());
    for (int position = 0; position < upstreamChoices.size(); position++) {
      JsonNode c = upstreamChoices.get(position);
      List<ObjectNode> out = c instanceof ObjectNode ? rewriteChoice((ObjectNode) c, position) : null;
      if (out == null) {
        perChoice.add(List.of(c instanceof ObjectNode ? (ObjectNode) c : nodes.objectNode()));
      } else {
        changed = true;
        perChoice.add(out);
      }
    }
    if (!changed) {
      return null;
    }
    int events = 0;
    for (List<ObjectNode> l : perChoice) {
      events = Math.max(events, l.size());
    }
    JsonNode usage = chunk.get("usage");
    if (events == 0 && (usage == null || usage.isNull())) {
      return List.of();
    }
    List<ObjectNode> result = new ArrayList<>(Math.max(events, 1));
    for (int e = 0; e < Math.max(events, 1); e++) {
      boolean last = e == Math.max(events, 1) - 1;
      ArrayNode arr = nodes.arrayNode();
      for (List<ObjectNode> l : perChoice) {
        if (e < l.size()) {
          arr.add(l.get(e));
        }
      }
      result.add(last ? withChoices(chunk, arr) : envelope(chunk, arr));
    }
    return result;
  }

  /** Releases every choice's held text (at {@code [DONE]}, at the end of the stream, before an error event). */
  List<ObjectNode> flushAll() {
    List<ObjectNode> out = new ArrayList<>();
    for (Choice choice : choices.values()) {
      if (choice.finished) {
        continue;
      }
      List<Piece> pieces = new ArrayList<>();
      if (mode == ThinkMode.WRAP) {
        if (choice.wrapOpen) {
          choice.wrapOpen = false;
          pieces.add(new Piece(false, wrapClose()));
        }
      } else {
        addSegments(pieces, choice.endParsing());
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
        out.add(envelope(lastChunk == null ? nodes.objectNode() : lastChunk, arr));
      }
    }
    return out;
  }

  /** Returns null when the choice is unchanged, else its output choices (possibly none). */
  private List<ObjectNode> rewriteChoice(ObjectNode c, int position) {
    int index = c.path("index").isInt() ? c.get("index").asInt() : position;
    Choice choice = choices.computeIfAbsent(index, Choice::new);
    if (choice.finished) {
      return null;
    }
    JsonNode deltaNode = c.get("delta");
    String finish = c.path("finish_reason").isTextual() ? c.get("finish_reason").asText() : "";
    boolean finishing = !finish.isEmpty();
    if (!(deltaNode instanceof ObjectNode)) {
      if (finishing) {
        List<Piece> pieces = new ArrayList<>();
        if (mode == ThinkMode.WRAP) {
          addWrapClose(choice, pieces);
        } else {
          addSegments(pieces, choice.endParsing());
        }
        choice.finished = true;
        return pieces.isEmpty() ? null : buildChoice(c, nodes.objectNode(), pieces, false);
      }
      return null;
    }
    ObjectNode delta = (ObjectNode) deltaNode;
    String nativeText = nativeReasoning(delta);
    boolean hasNativeKeys = delta.has(REASONING_CONTENT) || delta.has(REASONING);
    JsonNode content = delta.get(CONTENT);
    JsonNode toolCalls = delta.get("tool_calls");
    boolean endsText = finishing || (toolCalls != null && !toolCalls.isNull())
        || (delta.get("function_call") != null && !delta.get("function_call").isNull());

    List<Piece> pieces = new ArrayList<>();
    boolean extrasOnLast = false;
    String arrayReasoning = null;
    String arrayContent = null;
    if (content instanceof ArrayNode) {
      StringBuilder r = new StringBuilder();
      StringBuilder t = new StringBuilder();
      if (!splitParts((ArrayNode) content, r, t)) {
        return null; // unknown part types: leave the event as it came
      }
      arrayReasoning = r.toString();
      arrayContent = t.toString();
    }

    if (mode == ThinkMode.WRAP) {
      String reasoning = concat(nativeText, arrayReasoning);
      String text = content != null && content.isTextual() ? content.asText() : arrayContent == null ? "" : arrayContent;
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
      if (content != null && content.isTextual() && !content.asText().isEmpty()) {
        if (choice.nativeReasoning) {
          pieces.add(new Piece(false, content.asText()));
        } else {
          addSegments(pieces, choice.processor().feed(content.asText()));
        }
      } else if (arrayContent != null && !arrayContent.isEmpty()) {
        pieces.add(new Piece(false, arrayContent));
      }
      if (endsText) {
        addSegments(pieces, choice.endParsing());
      }
      if (mode == ThinkMode.STRIP) {
        pieces.removeIf(p -> p.reasoning() || p.text().isEmpty());
      }
      pieces = merge(pieces);
      if (arrayReasoning == null && isUnchanged(delta, pieces)) {
        if (finishing) {
          choice.finished = true;
        }
        return null;
      }
    }
    if (finishing) {
      choice.finished = true;
    }
    return buildChoice(c, delta, pieces, extrasOnLast);
  }

  /**
   * Whether the pieces say exactly what the delta already says: its reasoning, if any, in the configured field,
   * then its content. Such an event is forwarded byte for byte, without re-serialising it.
   */
  private boolean isUnchanged(ObjectNode delta, List<Piece> pieces) {
    String field = options.reasoningField();
    JsonNode other = delta.get(field.equals(REASONING_CONTENT) ? REASONING : REASONING_CONTENT);
    JsonNode reasoning = delta.get(field);
    JsonNode content = delta.get(CONTENT);
    // Only the configured field may appear in the output, and none at all in strip mode.
    if (other != null || (mode == ThinkMode.STRIP && reasoning != null)
        || (reasoning != null && !reasoning.isNull() && !reasoning.isTextual())
        || (content != null && !content.isNull() && !content.isTextual())) {
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
    return k == pieces.size()
        && reasoningText.equals(reasoning != null && reasoning.isTextual() ? reasoning.asText() : "")
        && contentText.equals(content != null && content.isTextual() ? content.asText() : "");
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
    String a = rc != null && rc.isTextual() ? rc.asText() : "";
    String b = r != null && r.isTextual() ? r.asText() : "";
    if (a.equals(b)) {
      return a;
    }
    return a + b;
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
