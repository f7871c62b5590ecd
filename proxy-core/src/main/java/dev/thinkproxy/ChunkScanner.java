package dev.thinkproxy;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Reads what the think logic needs from a {@code chat.completion.chunk} payload in one pass over its bytes,
 * without building a tree: per choice its index, finish reason, and the kind and text of {@code content},
 * {@code reasoning_content} and {@code reasoning}, plus where the delta and its members lie, so that a changed
 * delta can be spliced into the original bytes. Most events of a stream turn out unchanged and go out as the
 * bytes they came as; an event whose change is more than a new delta is parsed into a tree ({@link Chunk#tree()}).
 * For the legacy completions endpoint a choice holds its text itself, in {@code text}: the choice takes the delta's
 * place, and its members are the delta's members.
 *
 * <p>The scan validates the whole payload as strict JSON (RFC 8259: no comments, no trailing commas, no leading
 * zeros, escapes and UTF-8 checked) and is at least as strict as the mapper's parser and its
 * {@link StreamReadConstraints}, so a payload it accepts always parses into a tree. Content after the top-level
 * object is ignored, as the mapper ignores it. Duplicate keys resolve as in a tree: the last one wins.
 *
 * <p>Not thread-safe: one instance per response.
 */
final class ChunkScanner {
  /** What a text-carrying field of a delta holds. */
  enum Kind {
    ABSENT, NULL, TEXT, ARRAY, OTHER
  }

  static final int OTHER_MEMBER = 0;
  static final int CONTENT_MEMBER = 1;
  static final int REASONING_CONTENT_MEMBER = 2;
  static final int REASONING_MEMBER = 3;

  private static final byte[] CHOICES = ascii("choices");
  private static final byte[] USAGE = ascii("usage");
  private static final byte[] ERROR = ascii("error");
  private static final byte[] INDEX = ascii("index");
  private static final byte[] FINISH_REASON = ascii("finish_reason");
  private static final byte[] DELTA = ascii("delta");
  private static final byte[] LOGPROBS = ascii("logprobs");
  private static final byte[] CONTENT = ascii("content");
  private static final byte[] REASONING_CONTENT = ascii("reasoning_content");
  private static final byte[] REASONING = ascii("reasoning");
  private static final byte[] TEXT = ascii("text");
  private static final byte[] REFUSAL = ascii("refusal");
  private static final byte[] TOOL_CALLS = ascii("tool_calls");
  private static final byte[] FUNCTION_CALL = ascii("function_call");
  private static final byte[] TRUE = ascii("true");
  private static final byte[] FALSE = ascii("false");
  private static final byte[] NULL = ascii("null");

  /** Thrown on the first byte that is not JSON; carries nothing, so one instance serves everyone. */
  private static final class Malformed extends Exception {
    private static final long serialVersionUID = 1L;

    Malformed() {
      super(null, null, false, false);
    }
  }

  private static final Malformed MALFORMED = new Malformed();

  private final ObjectReader treeReader;
  /** The choice itself holds the text (legacy completions) rather than its {@code delta}. */
  private final boolean textInChoice;
  /** The key of the member that holds the answer text: {@code content}, or {@code text} in a legacy choice. */
  private final byte[] textKey;
  private final int maxDepth;
  private final int maxNumberLength;
  private final int maxStringLength;
  private final int maxNameLength;

  private byte[] b;
  private int pos;
  private int end;
  private boolean lineBreaks;
  /** The last string scanned: its bytes between the quotes, and whether it had escapes or non-ASCII bytes. */
  private int strFrom;
  private int strTo;
  private boolean strEscaped;
  private boolean strAscii;
  /** The last number scanned: whether it is an integer that fits an int, and its value. */
  private boolean numIsInt;
  private int numValue;

  ChunkScanner(ObjectMapper mapper, Endpoint endpoint) {
    this.treeReader = mapper.readerFor(JsonNode.class);
    this.textInChoice = endpoint == Endpoint.COMPLETIONS;
    this.textKey = textInChoice ? TEXT : CONTENT;
    StreamReadConstraints limits = mapper.getFactory().streamReadConstraints();
    this.maxDepth = limits.getMaxNestingDepth();
    this.maxNumberLength = limits.getMaxNumberLength();
    this.maxStringLength = limits.getMaxStringLength();
    this.maxNameLength = limits.getMaxNameLength();
  }

  /** Returns null when the payload is not a JSON object (such an event is forwarded as it came). */
  Chunk scan(byte[] bytes, int offset, int length) {
    b = bytes;
    pos = offset;
    end = offset + length;
    lineBreaks = false;
    try {
      if (end - pos >= 3 && b[pos] == (byte) 0xEF && b[pos + 1] == (byte) 0xBB && b[pos + 2] == (byte) 0xBF) {
        pos += 3;
      }
      ws();
      if (pos >= end || b[pos] != '{') {
        return null;
      }
      Chunk chunk = new Chunk(bytes, offset, length);
      topObject(chunk);
      chunk.lineBreaks = lineBreaks;
      return chunk;
    } catch (Malformed e) {
      return null;
    } finally {
      b = null;
    }
  }

  private void topObject(Chunk chunk) throws Malformed {
    if (!openObject(1)) {
      return;
    }
    do {
      key();
      if (keyIs(CHOICES)) {
        chunk.repeatedKeys |= chunk.choicesSeen;
        chunk.choicesSeen = true;
        if (peek() == '[') {
          chunk.choices = choices(2);
        } else {
          chunk.choices = null;
          value(1);
        }
      } else if (keyIs(USAGE)) {
        chunk.usageStart = peek() != 'n' ? pos : -1;
        value(1);
      } else if (keyIs(ERROR)) {
        chunk.error = true;
        value(1);
      } else {
        value(1);
      }
    } while (next('}'));
  }

  private List<ChoiceFields> choices(int depth) throws Malformed {
    List<ChoiceFields> choices = new ArrayList<>(1);
    if (!openArray(depth)) {
      return choices;
    }
    do {
      ChoiceFields c = new ChoiceFields(choices.size());
      if (peek() == '{') {
        choice(depth + 1, c);
      } else {
        c.object = false;
        value(depth);
      }
      choices.add(c);
    } while (next(']'));
    return choices;
  }

  private void choice(int depth, ChoiceFields c) throws Malformed {
    if (textInChoice) {
      c.delta = true;
      c.deltaStart = pos;
      members(depth, c);
      c.deltaEnd = pos;
      return;
    }
    if (!openObject(depth)) {
      return;
    }
    do {
      key();
      if (choiceMember(depth, c)) {
        continue;
      }
      if (keyIs(DELTA)) {
        c.repeatedKeys |= c.deltaStart >= 0;
        c.clearDelta();
        c.deltaStart = pos;
        if (peek() == '{') {
          c.delta = true;
          members(depth + 1, c);
        } else {
          c.delta = false;
          value(depth);
        }
        c.deltaEnd = pos;
      } else {
        value(depth);
      }
    } while (next('}'));
  }

  /**
   * Scans the value of a choice's {@code index}, {@code finish_reason} or {@code logprobs}, the key just read;
   * false, having scanned nothing, for any other key.
   */
  private boolean choiceMember(int depth, ChoiceFields c) throws Malformed {
    if (keyIs(INDEX)) {
      numIsInt = false;
      byte first = peek();
      value(depth);
      boolean isNumber = first == '-' || (first >= '0' && first <= '9');
      c.index = isNumber && numIsInt ? numValue : c.position;
    } else if (keyIs(FINISH_REASON)) {
      if (peek() == '"') {
        c.finishReason = stringValue();
      } else {
        c.finishReason = "";
        value(depth);
      }
    } else if (keyIs(LOGPROBS)) {
      c.logprobs = peek() != 'n';
      value(depth);
    } else {
      return false;
    }
    return true;
  }

  /**
   * The members of the object that holds the text: a chat delta, or a legacy choice, whose other members
   * ({@code index}, {@code finish_reason}, anything else) belong to the choice and count as no delta field.
   */
  private void members(int depth, ChoiceFields c) throws Malformed {
    if (!openObject(depth)) {
      return;
    }
    // Of repeated keys the last one counts, so these are decided at the end.
    boolean refusal = false;
    boolean toolCallItems = false;
    do {
      int keyStart = pos;
      key();
      int keyTo = strTo;
      boolean keyEscaped = strEscaped;
      boolean present = peek() != 'n';
      int id;
      if (keyIs(textKey)) {
        id = CONTENT_MEMBER;
        c.content = kind();
        c.contentText = text(depth);
      } else if (keyIs(REASONING_CONTENT)) {
        id = REASONING_CONTENT_MEMBER;
        c.reasoningContent = kind();
        c.reasoningContentText = text(depth);
      } else if (keyIs(REASONING)) {
        id = REASONING_MEMBER;
        c.reasoning = kind();
        c.reasoningText = text(depth);
      } else {
        id = OTHER_MEMBER;
        if (textInChoice) {
          if (!choiceMember(depth, c)) {
            value(depth);
          }
        } else if (keyIs(TOOL_CALLS)) {
          c.toolCalls = present;
          toolCallItems = peek() == '[' && !emptyArray();
          value(depth);
        } else if (keyIs(FUNCTION_CALL)) {
          c.functionCall = present;
          value(depth);
        } else if (keyIs(REFUSAL)) {
          refusal = peek() == '"' && pos + 1 < end && b[pos + 1] != '"';
          value(depth);
        } else {
          value(depth);
        }
      }
      c.addMember(keyStart, pos, id, present, keyTo, keyEscaped);
    } while (next('}'));
    c.answer = refusal || toolCallItems || c.functionCall;
    otherFields(c);
  }

  /** Whether the array that starts at the position has no element; it is validated when scanned as a value. */
  private boolean emptyArray() {
    int i = pos + 1;
    while (i < end && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r')) {
      i++;
    }
    return i < end && b[i] == ']';
  }

  /** Whether the delta has a non-null member besides the text ones; of repeated keys the last one counts. */
  private void otherFields(ChoiceFields c) {
    int[] ms = c.members;
    for (int m = 0; m < c.memberCount; m++) {
      if (ms[MEMBER * m + 2] != OTHER_MEMBER) {
        continue;
      }
      boolean last = true;
      for (int k = m + 1; k < c.memberCount && last; k++) {
        if (ms[MEMBER * k + 2] == OTHER_MEMBER && sameKey(ms, m, k)) {
          last = false;
          c.repeatedKeys = true;
        }
      }
      // A legacy choice's other members belong to the choice, not to its text.
      if (last && ms[MEMBER * m + 3] == 1 && !textInChoice) {
        c.otherFields = true;
      }
    }
  }

  private boolean sameKey(int[] ms, int m, int k) {
    int mFrom = ms[MEMBER * m] + 1;
    int mTo = ms[MEMBER * m + 4];
    int kFrom = ms[MEMBER * k] + 1;
    int kTo = ms[MEMBER * k + 4];
    if (ms[MEMBER * m + 5] == 0 && ms[MEMBER * k + 5] == 0) {
      return Arrays.equals(b, mFrom, mTo, b, kFrom, kTo);
    }
    return decode(mFrom, mTo, ms[MEMBER * m + 5] == 1, false).equals(decode(kFrom, kTo, ms[MEMBER * k + 5] == 1, false));
  }

  private Kind kind() throws Malformed {
    switch (peek()) {
      case '"':
        return Kind.TEXT;
      case 'n':
        return Kind.NULL;
      case '[':
        return Kind.ARRAY;
      default:
        return Kind.OTHER;
    }
  }

  /** Scans a delta member's value; returns its text when it is a string, else "". */
  private String text(int depth) throws Malformed {
    if (peek() == '"') {
      return stringValue();
    }
    value(depth);
    return "";
  }

  // --- JSON grammar ---

  /** Consumes '{' and the whitespace after it; false when the object is empty (and then consumed whole). */
  private boolean openObject(int depth) throws Malformed {
    return open(depth, '}');
  }

  private boolean openArray(int depth) throws Malformed {
    return open(depth, ']');
  }

  private boolean open(int depth, char close) throws Malformed {
    if (depth > maxDepth) {
      throw MALFORMED;
    }
    pos++;
    ws();
    if (peek() == close) {
      pos++;
      return false;
    }
    return true;
  }

  /** After a member or element: true after a comma (and the whitespace after it), false after the close. */
  private boolean next(char close) throws Malformed {
    ws();
    byte c = peek();
    pos++;
    if (c == ',') {
      ws();
      return true;
    }
    if (c == close) {
      return false;
    }
    throw MALFORMED;
  }

  /** A member's key and the colon after it, leaving the position at its value. */
  private void key() throws Malformed {
    if (peek() != '"') {
      throw MALFORMED;
    }
    string();
    if (strTo - strFrom > maxNameLength) {
      throw MALFORMED;
    }
    ws();
    if (peek() != ':') {
      throw MALFORMED;
    }
    pos++;
    ws();
  }

  private boolean keyIs(byte[] name) {
    if (strEscaped) {
      return decode().equals(new String(name, StandardCharsets.US_ASCII));
    }
    if (strTo - strFrom != name.length) {
      return false;
    }
    for (int k = 0; k < name.length; k++) {
      if (b[strFrom + k] != name[k]) {
        return false;
      }
    }
    return true;
  }

  /** Any value, whose containers start at nesting depth {@code depth + 1}. */
  private void value(int depth) throws Malformed {
    byte c = peek();
    switch (c) {
      case '{':
        if (openObject(depth + 1)) {
          do {
            key();
            value(depth + 1);
          } while (next('}'));
        }
        break;
      case '[':
        if (openArray(depth + 1)) {
          do {
            value(depth + 1);
          } while (next(']'));
        }
        break;
      case '"':
        string();
        break;
      case 't':
        literal(TRUE);
        break;
      case 'f':
        literal(FALSE);
        break;
      case 'n':
        literal(NULL);
        break;
      default:
        number();
    }
  }

  private String stringValue() throws Malformed {
    string();
    return decode();
  }

  /** Scans a string from its opening quote to after its closing quote, validating escapes and UTF-8. */
  private void string() throws Malformed {
    int i = pos + 1;
    strFrom = i;
    strEscaped = false;
    strAscii = true;
    while (true) {
      // Plain ASCII runs first: one comparison per byte for most of a payload.
      while (i < end && b[i] >= 0x20 && b[i] != '"' && b[i] != '\\') {
        i++;
      }
      if (i >= end) {
        throw MALFORMED;
      }
      int c = b[i];
      if (c == '"') {
        break;
      }
      if (c == '\\') {
        strEscaped = true;
        i = escape(i);
      } else if (c < 0) {
        strAscii = false;
        i = utf8(i);
      } else if (c < 0x20) {
        throw MALFORMED;
      } else {
        i++;
      }
    }
    strTo = i;
    pos = i + 1;
    if (strTo - strFrom > maxStringLength) {
      throw MALFORMED;
    }
  }

  private int escape(int i) throws Malformed {
    if (i + 1 >= end) {
      throw MALFORMED;
    }
    switch (b[i + 1]) {
      case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        return i + 2;
      case 'u':
        if (i + 6 > end) {
          throw MALFORMED;
        }
        for (int k = i + 2; k < i + 6; k++) {
          if (Character.digit(b[k], 16) < 0) {
            throw MALFORMED;
          }
        }
        return i + 6;
      default:
        throw MALFORMED;
    }
  }

  /** Validates one UTF-8 sequence starting at {@code i} (no overlong forms, no surrogates, at most U+10FFFF). */
  private int utf8(int i) throws Malformed {
    int lead = b[i] & 0xFF;
    int count;
    int min = 0x80;
    int max = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      count = 1;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      count = 2;
      if (lead == 0xE0) {
        min = 0xA0;
      } else if (lead == 0xED) {
        max = 0x9F;
      }
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      count = 3;
      if (lead == 0xF0) {
        min = 0x90;
      } else if (lead == 0xF4) {
        max = 0x8F;
      }
    } else {
      throw MALFORMED;
    }
    if (i + count >= end) {
      throw MALFORMED;
    }
    int second = b[i + 1] & 0xFF;
    if (second < min || second > max) {
      throw MALFORMED;
    }
    for (int k = i + 2; k <= i + count; k++) {
      if ((b[k] & 0xC0) != 0x80) {
        throw MALFORMED;
      }
    }
    return i + count + 1;
  }

  /** The text of the last string scanned. */
  private String decode() {
    return decode(strFrom, strTo, strEscaped, strAscii);
  }

  private String decode(int from, int to, boolean escaped, boolean ascii) {
    if (!escaped) {
      return new String(b, from, to - from, ascii ? StandardCharsets.ISO_8859_1 : StandardCharsets.UTF_8);
    }
    StringBuilder s = new StringBuilder(to - from);
    int run = from;
    int i = from;
    while (i < to) {
      if (b[i] != '\\') {
        i++;
        continue;
      }
      s.append(new String(b, run, i - run, StandardCharsets.UTF_8));
      byte e = b[i + 1];
      switch (e) {
        case 'b': s.append('\b'); break;
        case 'f': s.append('\f'); break;
        case 'n': s.append('\n'); break;
        case 'r': s.append('\r'); break;
        case 't': s.append('\t'); break;
        case 'u':
          s.append((char) Integer.parseInt(new String(b, i + 2, 4, StandardCharsets.US_ASCII), 16));
          i += 4;
          break;
        default:
          s.append((char) e);
      }
      i += 2;
      run = i;
    }
    s.append(new String(b, run, to - run, StandardCharsets.UTF_8));
    return s.toString();
  }

  private void literal(byte[] word) throws Malformed {
    if (end - pos < word.length || !Arrays.equals(b, pos, pos + word.length, word, 0, word.length)) {
      throw MALFORMED;
    }
    pos += word.length;
  }

  private void number() throws Malformed {
    int start = pos;
    if (pos < end && b[pos] == '-') {
      pos++;
    }
    int intStart = pos;
    if (pos < end && b[pos] == '0') {
      pos++;
    } else if (!digits()) {
      throw MALFORMED;
    }
    int intEnd = pos;
    boolean integral = true;
    if (pos < end && b[pos] == '.') {
      pos++;
      integral = false;
      if (!digits()) {
        throw MALFORMED;
      }
    }
    if (pos < end && (b[pos] == 'e' || b[pos] == 'E')) {
      pos++;
      integral = false;
      if (pos < end && (b[pos] == '+' || b[pos] == '-')) {
        pos++;
      }
      int exponentStart = pos;
      // A BigDecimal's scale is an int: the mapper fails on exponents near it, so refuse them well before.
      if (!digits() || pos - exponentStart > 9) {
        throw MALFORMED;
      }
    }
    if (pos - start > maxNumberLength) {
      throw MALFORMED;
    }
    numIsInt = false;
    if (integral && intEnd - intStart <= 10) {
      long v = 0;
      for (int k = intStart; k < intEnd; k++) {
        v = v * 10 + (b[k] - '0');
      }
      if (intStart > start) {
        v = -v;
      }
      if (v >= Integer.MIN_VALUE && v <= Integer.MAX_VALUE) {
        numIsInt = true;
        numValue = (int) v;
      }
    }
  }

  private boolean digits() {
    int start = pos;
    while (pos < end && b[pos] >= '0' && b[pos] <= '9') {
      pos++;
    }
    return pos > start;
  }

  private void ws() {
    while (pos < end) {
      byte c = b[pos];
      if (c == ' ' || c == '\t') {
        pos++;
      } else if (c == '\n' || c == '\r') {
        lineBreaks = true;
        pos++;
      } else {
        return;
      }
    }
  }

  private byte peek() throws Malformed {
    if (pos >= end) {
      throw MALFORMED;
    }
    return b[pos];
  }

  private static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }

  /** One scanned payload. Refers to the caller's bytes: use it before they change. */
  final class Chunk {
    private final byte[] bytes;
    private final int offset;
    private final int length;
    private ObjectNode tree;
    /** The {@code choices} array, or null when there is none or it is not an array. */
    List<ChoiceFields> choices;
    /**
     * Where the value of {@code usage} starts in the payload; -1 when it is absent or null. An int in place of a
     * flag keeps the object, made for every event, the size it was.
     */
    private int usageStart = -1;
    /** {@code error} is present. */
    boolean error;
    /** The JSON has line breaks between tokens, so it cannot go out on one {@code data:} line as it is. */
    boolean lineBreaks;
    private boolean choicesSeen;
    /** {@code choices}, a choice's {@code delta} or one of a delta's text members appears more than once. */
    private boolean repeatedKeys;

    private Chunk(byte[] bytes, int offset, int length) {
      this.bytes = bytes;
      this.offset = offset;
      this.length = length;
    }

    /**
     * Whether a change to the delta of its only choice can be spliced into the bytes as they came: one
     * {@code data:} line, one choice, no repeated keys whose first value would be copied unchanged.
     */
    boolean spliceable() {
      if (lineBreaks || repeatedKeys || choices == null || choices.size() != 1) {
        return false;
      }
      ChoiceFields c = choices.get(0);
      return c.object && c.delta && !c.repeatedKeys;
    }

    /** Whether {@code usage} is present and not null. */
    boolean hasUsage() {
      return usageStart >= 0;
    }

    /** The value of {@code usage}, parsed on its own unless the whole payload already is. */
    JsonNode usageValue() {
      if (tree != null) {
        return tree.get("usage");
      }
      // A parser stops after the one value it is asked for, whatever follows it.
      try (JsonParser p = treeReader.getFactory().createParser(bytes, usageStart, offset + length - usageStart)) {
        return treeReader.readTree(p);
      } catch (IOException | RuntimeException e) {
        throw unparsed(e);
      }
    }

    /** The payload's length in bytes. */
    int length() {
      return length;
    }

    /**
     * This payload, still to be parsed on first use, but over a copy of its bytes: for keeping beyond the event,
     * whose buffer the caller reuses. Its scan results are not kept.
     */
    Chunk detached() {
      Chunk copy = new Chunk(Arrays.copyOfRange(bytes, offset, offset + length), 0, length);
      copy.tree = tree;
      return copy;
    }

    /** The payload as a tree, parsed on first use. */
    ObjectNode tree() {
      if (tree == null) {
        try {
          tree = (ObjectNode) treeReader.readTree(bytes, offset, length);
        } catch (IOException | RuntimeException e) {
          throw unparsed(e);
        }
      }
      return tree;
    }

    private UncheckedIOException unparsed(Exception e) {
      return new UncheckedIOException("a payload that scanned as JSON did not parse",
          e instanceof IOException ? (IOException) e : new IOException(e));
    }

    /**
     * Writes the payload with one choice's delta rebuilt: its {@code content} member replaced by
     * {@code contentMember} (key, colon and value; null leaves it out), its {@code reasoning_content} and
     * {@code reasoning} members left out, the other members copied as they came, then {@code tail} (members to
     * add at the end). Every byte outside the delta is copied as it came.
     */
    void writeWithDelta(ByteArrayOutputStream out, ChoiceFields c, byte[] contentMember, byte[] tail) {
      out.write(bytes, offset, c.deltaStart - offset);
      out.write('{');
      boolean first = true;
      for (int m = 0; m < c.memberCount; m++) {
        int id = c.members[MEMBER * m + 2];
        if (id == REASONING_CONTENT_MEMBER || id == REASONING_MEMBER || (id == CONTENT_MEMBER && contentMember == null)) {
          continue;
        }
        if (!first) {
          out.write(',');
        }
        first = false;
        if (id == CONTENT_MEMBER) {
          out.write(contentMember, 0, contentMember.length);
        } else {
          out.write(bytes, c.members[MEMBER * m], c.members[MEMBER * m + 1] - c.members[MEMBER * m]);
        }
      }
      if (tail.length > 0) {
        if (!first) {
          out.write(',');
        }
        out.write(tail, 0, tail.length);
      }
      out.write('}');
      out.write(bytes, c.deltaEnd, offset + length - c.deltaEnd);
    }
  }

  private static final byte[] HEX = ascii("0123456789ABCDEF");

  /** Writes {@code s} as a JSON string, escaped byte for byte as the mapper's generator escapes it. */
  static void writeString(ByteArrayOutputStream out, String s) {
    out.write('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
        out.write(c);
      } else if (c == '"' || c == '\\') {
        out.write('\\');
        out.write(c);
      } else if (c == '\n') {
        out.write('\\');
        out.write('n');
      } else if (c == '\t') {
        out.write('\\');
        out.write('t');
      } else if (c == '\r') {
        out.write('\\');
        out.write('r');
      } else if (c == '\b') {
        out.write('\\');
        out.write('b');
      } else if (c == '\f') {
        out.write('\\');
        out.write('f');
      } else if (c < 0x20 || Character.isSurrogate(c)) {
        out.write('\\');
        out.write('u');
        out.write(HEX[c >> 12]);
        out.write(HEX[(c >> 8) & 0xF]);
        out.write(HEX[(c >> 4) & 0xF]);
        out.write(HEX[c & 0xF]);
      } else if (c < 0x800) {
        out.write(0xC0 | (c >> 6));
        out.write(0x80 | (c & 0x3F));
      } else {
        out.write(0xE0 | (c >> 12));
        out.write(0x80 | ((c >> 6) & 0x3F));
        out.write(0x80 | (c & 0x3F));
      }
    }
    out.write('"');
  }

  /** Ints per member in {@link ChoiceFields#members}. */
  static final int MEMBER = 6;

  /**
   * What one entry of {@code choices} says. "The delta" is the object that holds the text: the choice's
   * {@code delta}, or for a legacy completion the choice itself, whose {@code text} is then "content".
   */
  static final class ChoiceFields {
    /** Position in the {@code choices} array. */
    final int position;
    /** The entry is an object; when false nothing else here applies. */
    boolean object = true;
    /** The {@code index} field, or the position when it is absent or not an int. */
    int index;
    /** The finish reason when it is a string, else "". */
    String finishReason = "";
    /** {@code logprobs} is present and not null. */
    boolean logprobs;
    /** {@code delta} is an object (always, for a legacy choice that is an object). */
    boolean delta;
    /** Where the {@code delta} value starts and ends in the payload; -1 before one is seen. */
    int deltaStart = -1;
    int deltaEnd = -1;
    /** The answer text: {@code content}, or a legacy choice's {@code text}. */
    Kind content;
    String contentText;
    Kind reasoningContent;
    String reasoningContentText;
    Kind reasoning;
    String reasoningText;
    /** {@code tool_calls} is present and not null. */
    boolean toolCalls;
    /** {@code function_call} is present and not null. */
    boolean functionCall;
    /**
     * The delta carries answer output besides its text: a non-empty {@code refusal}, a {@code tool_calls} array with
     * an element, or a {@code function_call}.
     */
    boolean answer;
    /**
     * The delta has a member other than the three text fields that is not null (role, tool calls, …); never for a
     * legacy choice, whose other members belong to the choice.
     */
    boolean otherFields;
    /**
     * The delta's members, {@value #MEMBER} ints each: where it starts (its key's opening quote) and ends (its
     * value), which it is, whether its value is not null, where its key ends, and whether the key has escapes.
     */
    int[] members;
    int memberCount;
    /** {@code delta} or one of its text members appears more than once. */
    boolean repeatedKeys;

    ChoiceFields(int position) {
      this.position = position;
      this.index = position;
      clearDelta();
    }

    private void clearDelta() {
      content = Kind.ABSENT;
      contentText = "";
      reasoningContent = Kind.ABSENT;
      reasoningContentText = "";
      reasoning = Kind.ABSENT;
      reasoningText = "";
      toolCalls = false;
      functionCall = false;
      answer = false;
      otherFields = false;
      memberCount = 0;
    }

    private void addMember(int from, int to, int id, boolean present, int keyTo, boolean keyEscaped) {
      if (members == null) {
        members = new int[4 * MEMBER];
      } else if (MEMBER * memberCount == members.length) {
        members = Arrays.copyOf(members, members.length * 2);
      }
      if (id != OTHER_MEMBER) {
        for (int m = 0; m < memberCount; m++) {
          if (members[MEMBER * m + 2] == id) {
            repeatedKeys = true;
          }
        }
      }
      int at = MEMBER * memberCount;
      members[at] = from;
      members[at + 1] = to;
      members[at + 2] = id;
      members[at + 3] = present ? 1 : 0;
      members[at + 4] = keyTo;
      members[at + 5] = keyEscaped ? 1 : 0;
      memberCount++;
    }
  }
}
