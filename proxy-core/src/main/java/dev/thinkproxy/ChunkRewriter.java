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
 * Rewrites the JSON of {@code chat.completion.chunk} events, and of the legacy completions endpoint's
 * {@code text_completion} events: one {@link ThinkTagProcessor} per choice index, the envelope kept intact. Owns the
 * JSON shape; the processor owns the text and the relay owns the bytes. A chat choice holds its text in
 * {@code delta.content}, a legacy choice in its own {@code text}; the reasoning field goes beside the text, and
 * everything else works alike for both.
 *
 * <p>Placement rules: when one upstream event yields several pieces for a choice (reasoning, then content),
 * each piece becomes its own event with the same envelope, reasoning first. Fields other than text (role,
 * tool calls, refusal) ride on the first piece, {@code finish_reason} on the last, {@code logprobs} on the
 * first; top-level fields such as {@code usage} stay on the last event. Held-back text is released before a
 * choice's tool calls and finish, and for every choice by {@link #flushAll()}.
 *
 * <p>As output goes out it tells a {@link ResponseObserver} that reasoning or answer went out, and what a
 * {@code usage} object says. In mode {@link ThinkMode#OFF} it only observes: every event is forwarded as it came.
 *
 * <p>Not thread-safe: one instance per response.
 */
final class ChunkRewriter {
  private static final String CONTENT = "content";
  private static final String TEXT = "text";
  private static final String REASONING_CONTENT = "reasoning_content";
  private static final String REASONING = "reasoning";
  private static final byte[] EMPTY = new byte[0];
  private static final byte[] CONTENT_EMPTY = "\"content\":\"\"".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] CONTENT_NULL = "\"content\":null".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] TEXT_EMPTY = "\"text\":\"\"".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] TEXT_NULL = "\"text\":null".getBytes(StandardCharsets.US_ASCII);
  private static final List<String> ENVELOPE = List.of("id", "object", "created", "model", "system_fingerprint");

  private final ThinkOptions options;
  private final ThinkMode mode;
  private final boolean implicitOpen;
  /** Split and strip rewrite the text through the processors; wrap and off run them only for the observer. */
  private final boolean parsesOutput;
  /** The choice itself holds the text (legacy completions), rather than its {@code delta}. */
  private final boolean textInChoice;
  /** The member that holds the text: {@code content}, or {@code text} in a legacy choice. */
  private final String textField;
  /** The text member emptied, {@code "content":""}, and nulled, {@code "content":null}, for the splice. */
  private final byte[] textEmpty;
  private final byte[] textNull;
  private final ResponseObserver observer;
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
    /**
     * No tag parsing for this choice any more: the upstream separates reasoning itself, a tool call or the finish
     * ended the text, or (when the processor only informs the observer) the answer has begun.
     */
    boolean parsingEnded;
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
      parsingEnded = true;
      return processor == null ? List.of() : processor.finish();
    }

    /** Whether output of this choice is held back, to be released later. */
    boolean holdsOutput() {
      return !finished && (wrapOpen || (parsesOutput && processor != null && processor.holdsText()));
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

  /**
   * @param endpoint {@link Endpoint#COMPLETIONS} for the legacy endpoint's events, else chat completion chunks
   * @param observer told what goes out; with {@link ThinkMode#OFF} the rewriter does nothing else
   */
  ChunkRewriter(ThinkOptions options, ThinkMode mode, boolean implicitOpen, ObjectMapper mapper, Endpoint endpoint,
      ResponseObserver observer) {
    this.options = options;
    this.mode = mode;
    this.implicitOpen = implicitOpen;
    this.parsesOutput = mode == ThinkMode.SPLIT || mode == ThinkMode.STRIP;
    this.textInChoice = endpoint == Endpoint.COMPLETIONS;
    this.textField = textInChoice ? TEXT : CONTENT;
    this.textEmpty = textInChoice ? TEXT_EMPTY : CONTENT_EMPTY;
    this.textNull = textInChoice ? TEXT_NULL : CONTENT_NULL;
    this.observer = observer;
    this.scanner = new ChunkScanner(mapper, endpoint);
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
    if (chunk.hasUsage()) {
      reportUsage(chunk.usageValue(), observer);
    }
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
    if (events == 0 && !chunk.hasUsage()) {
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
        out = buildChoice((ObjectNode) c, plan.pieces(), plan.extrasOnLast());
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
    // What the text member becomes when the piece leaves no text in it: "" stays "", null stays null.
    byte[] emptied = f.content == ChunkScanner.Kind.ABSENT ? null
        : f.content == ChunkScanner.Kind.NULL ? textNull : textEmpty;
    byte[] contentMember = emptied;
    byte[] tail = EMPTY;
    if (p.reasoning()) {
      tail = member(field, p.text());
    } else if (!p.text().isEmpty()) {
      byte[] content = member(textField, p.text());
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
      for (Piece p : endText(choice)) {
        ObjectNode c = nodes.objectNode();
        c.put("index", choice.index);
        ObjectNode holder = textInChoice ? c : c.putObject("delta");
        if (p.reasoning()) {
          if (textInChoice) {
            holder.put(TEXT, ""); // a legacy choice always has its text
          }
          holder.put(options.reasoningField(), p.text());
        } else {
          holder.put(textField, p.text());
        }
        if (textInChoice) {
          c.putNull("logprobs");
        }
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
      if (choice.holdsOutput()) {
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
        List<Piece> pieces = endText(choice);
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
      ArrayNode parts = (ArrayNode) holder(chunk.tree().get("choices").get(f.position)).get(textField);
      if (!splitParts(parts, r, t)) {
        reportAnswerFields(f);
        return null; // unknown part types: leave the event as it came
      }
      arrayReasoning = r.toString();
      arrayContent = t.toString();
    }

    if (!parsesOutput) {
      String reasoning = concat(nativeText, arrayReasoning);
      String text = textContent ? f.contentText : arrayContent == null ? "" : arrayContent;
      observeInput(choice, f, reasoning, text, arrayContent != null, endsText);
      if (mode == ThinkMode.OFF
          || (reasoning.isEmpty() && !choice.wrapOpen && !hasNativeKeys && arrayReasoning == null)) {
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
        if (choice.parsingEnded) {
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
      report(pieces);
      reportAnswerFields(f);
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

  /**
   * Ends a choice's text, at its finish or the end of the stream: held text is released (and stripped) or the wrap
   * block closed. Returns the pieces that makes, reported to the observer.
   */
  private List<Piece> endText(Choice choice) {
    List<Piece> pieces = new ArrayList<>();
    if (parsesOutput) {
      addSegments(pieces, choice.endParsing());
      report(pieces);
      strip(pieces);
    } else {
      observeParsed(choice, choice.endParsing());
      addWrapClose(choice, pieces);
    }
    choice.finished = true;
    return pieces;
  }

  /**
   * Tells the observer what a choice's event says, in the modes that do not run its text through the processor for
   * output: reasoning from the upstream's own fields, and the text, whose leading think block the processor tells
   * apart until the answer begins.
   */
  private void observeInput(Choice choice, ChunkScanner.ChoiceFields f, String reasoning, String text,
      boolean fromParts, boolean endsText) {
    if (!reasoning.isEmpty() || fromParts) {
      observeParsed(choice, choice.endParsing());
    }
    if (!reasoning.isEmpty()) {
      observer.reasoning();
    }
    if (!text.isEmpty()) {
      if (choice.parsingEnded) {
        observer.content();
      } else {
        observeParsed(choice, choice.processor().feed(text));
      }
    }
    if (endsText) {
      observeParsed(choice, choice.endParsing());
    }
    reportAnswerFields(f);
  }

  /**
   * Reports segments the processor gave only for the observer. Once the answer has begun no later opening tag counts
   * (unless blocks are taken anywhere), so the rest is answer and the processor is no longer needed to say so.
   */
  private void observeParsed(Choice choice, List<ThinkTagProcessor.Segment> segments) {
    for (ThinkTagProcessor.Segment s : segments) {
      if (s.kind() == ThinkTagProcessor.Kind.REASONING) {
        observer.reasoning();
      } else {
        observer.content();
      }
    }
    if (!choice.parsingEnded && !options.anywhere() && choice.processor != null
        && choice.processor.contentStarted()) {
      choice.endParsing();
    }
  }

  /** Tells the observer about pieces that go out (or, in strip mode, would have gone out), in order. */
  private void report(List<Piece> pieces) {
    for (int k = 0; k < pieces.size(); k++) {
      Piece p = pieces.get(k);
      if (p.text().isEmpty()) {
        continue;
      }
      if (p.reasoning()) {
        observer.reasoning();
      } else {
        observer.content();
      }
    }
  }

  /** A refusal or a tool call is answer output too. */
  private void reportAnswerFields(ChunkScanner.ChoiceFields f) {
    if (f.answer) {
      observer.content();
    }
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
  private List<ObjectNode> buildChoice(ObjectNode c, List<Piece> pieces, boolean extrasOnLast) {
    ObjectNode delta = holder(c);
    boolean hasExtras = (!textInChoice && hasNonTextFields(delta)) || !c.path("finish_reason").asText("").isEmpty()
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
      ObjectNode d;
      if (textInChoice) {
        d = choiceFields(c, null, k, pieces.size());
      } else {
        d = k == carrier ? delta.deepCopy() : nodes.objectNode();
        if (carrier != 0 && delta.hasNonNull("role")) {
          // Tool calls and the finish follow the closing tag, but the role still opens the choice's output.
          if (k == 0) {
            d.set("role", delta.get("role"));
          } else if (k == carrier) {
            d.remove("role");
          }
        }
      }
      putText(d, delta, pieces.get(k), k == carrier);
      out.add(textInChoice ? d : choiceFields(c, d, k, pieces.size()));
    }
    return out;
  }

  /**
   * Writes one piece into {@code d}, the output's copy of {@code holder} (the delta, or a legacy choice): the text
   * member, the configured reasoning field, and no other reasoning field.
   */
  private void putText(ObjectNode d, ObjectNode holder, Piece p, boolean carrier) {
    d.remove(REASONING_CONTENT);
    d.remove(REASONING);
    boolean hasText = holder.has(textField);
    boolean textNotNull = hasText && !holder.get(textField).isNull();
    if (p.reasoning()) {
      if (textNotNull) {
        d.put(textField, "");
      } else if (hasText) {
        d.putNull(textField);
      }
      d.put(options.reasoningField(), p.text());
    } else if (!p.text().isEmpty() || !carrier) {
      d.put(textField, p.text());
    } else if (textNotNull) {
      d.put(textField, ""); // all of its text was held back or moved
    }
  }

  /**
   * The fields of choice {@code c} for output event {@code k} of {@code count}: its delta replaced by {@code d} (when
   * given), its finish reason only on the last event and its logprobs only on the first, the rest as they came.
   */
  private ObjectNode choiceFields(ObjectNode c, ObjectNode d, int k, int count) {
    ObjectNode choice = nodes.objectNode();
    Iterator<Map.Entry<String, JsonNode>> fields = c.fields();
    while (fields.hasNext()) {
      Map.Entry<String, JsonNode> f = fields.next();
      switch (f.getKey()) {
        case "delta":
          choice.set("delta", d == null ? f.getValue() : d);
          break;
        case "finish_reason":
          if (k == count - 1) {
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
    if (d != null && !choice.has("delta")) {
      choice.set("delta", d);
    }
    return choice;
  }

  /** The object that holds a choice's text: the choice itself for a legacy completion, else its delta. */
  private ObjectNode holder(JsonNode c) {
    if (textInChoice) {
      return (ObjectNode) c;
    }
    JsonNode delta = c.get("delta");
    return delta instanceof ObjectNode ? (ObjectNode) delta : nodes.objectNode();
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

  /** Tells the observer the token counts of a {@code usage} value, when it is an object. */
  static void reportUsage(JsonNode usage, ResponseObserver observer) {
    if (!(usage instanceof ObjectNode)) {
      return;
    }
    long prompt = count(usage.get("prompt_tokens"));
    long completion = count(usage.get("completion_tokens"));
    JsonNode total = usage.get("total_tokens");
    JsonNode reasoning = usage.path("completion_tokens_details").get("reasoning_tokens");
    if (reasoning == null || !reasoning.isNumber()) {
      reasoning = usage.get("reasoning_tokens");
    }
    observer.usage(new TokenUsage(prompt, completion, isNumber(total) ? total.longValue() : prompt + completion,
        count(reasoning)));
  }

  private static long count(JsonNode n) {
    return isNumber(n) ? n.longValue() : 0;
  }

  private static boolean isNumber(JsonNode n) {
    return n != null && n.isNumber();
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
