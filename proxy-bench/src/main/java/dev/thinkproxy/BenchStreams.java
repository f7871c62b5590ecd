package dev.thinkproxy;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * The event streams the benchmarks replay, built once per trial. Each stream is a list of complete SSE events
 * ({@code data: …\n\n}), fed to the code under test one event per call, as a provider flushes them.
 *
 * <ul>
 *   <li>{@link #VLLM}: synthetic, 200 {@code chat.completion.chunk} events as vLLM sends them without a reasoning
 *       parser (Qwen3/QwQ style): a role event, 198 content tokens of 1–8 characters of which the first 40 % are
 *       {@code <think>\n…\n</think>\n\n} (the tags as single tokens, as those tokenizers emit them), a finish
 *       event, then {@code [DONE]}. Deterministic (fixed seed).</li>
 *   <li>{@link #DEEPSEEK}: a real DeepSeek API capture (107 chunks + {@code [DONE]}), reasoning natively in
 *       {@code reasoning_content}; see {@code proxy-bench/README.md} for its source.</li>
 * </ul>
 */
final class BenchStreams {
  static final String VLLM = "vllm-think-tags";
  static final String DEEPSEEK = "deepseek-reasoning-content";

  static final int VLLM_CHUNKS = 200;
  private static final double THINK_SHARE = 0.40;
  private static final String DEEPSEEK_RESOURCE = "/dev/thinkproxy/bench/deepseek-v4-flash-reasoning.sse";

  private static final String[] WORDS = {
    "the", "a", "to", "of", "and", "is", "in", "that", "it", "for", "we", "need", "so", "let", "me", "check",
    "count", "letter", "word", "answer", "user", "asks", "how", "many", "times", "appears", "first", "then",
    "next", "wait", "maybe", "actually", "because", "should", "could", "would", "think", "step", "result",
    "value", "number", "string", "function", "return", "total", "so", "each", "position", "straw", "berry",
    "Okay", "Hmm", "But", "Yes", "Now", "So", "The", "This", "There", "are", "be", "not", "with", "as", "on",
  };
  private static final String[] PUNCT = {".", ",", ":", "?", "!", ")", " (", " `", "`", " **", "**", " -", " 3"};

  private BenchStreams() {}

  /** The mapper exactly as {@code ChatCompletionProxy} configures it (including its deprecated factory call). */
  @SuppressWarnings("deprecation")
  static ObjectMapper mapper() {
    return JsonMapper.builder()
        .nodeFactory(JsonNodeFactory.withExactBigDecimals(true))
        .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
        .build();
  }

  /** The events of a stream, each a complete SSE event. */
  static List<byte[]> events(String stream) {
    switch (stream) {
      case VLLM:
        return vllmEvents();
      case DEEPSEEK:
        return deepseekEvents();
      default:
        throw new IllegalArgumentException("unknown stream: " + stream);
    }
  }

  /** The number of {@code chat.completion.chunk} events (everything but {@code [DONE]}). */
  static int chunkCount(List<byte[]> events) {
    int n = 0;
    for (byte[] e : events) {
      if (!new String(e, StandardCharsets.UTF_8).startsWith("data: [DONE]")) {
        n++;
      }
    }
    return n;
  }

  /** The {@code delta.content} texts of the vLLM stream's content tokens, in order (198 of them). */
  static List<String> vllmTokens() {
    Random r = new Random(20250601L);
    int tokens = VLLM_CHUNKS - 2; // minus the role event and the finish event
    int thinkTokens = (int) Math.round(tokens * THINK_SHARE);
    List<String> out = new ArrayList<>(tokens);
    out.add("<think>");
    out.add("\n");
    // Reasoning body; the block ends with "\n", "</think>", "\n\n".
    while (out.size() < thinkTokens - 3) {
      addRandomTokens(r, out, thinkTokens - 3);
    }
    out.add("\n");
    out.add("</think>");
    out.add("\n\n");
    while (out.size() < tokens) {
      addRandomTokens(r, out, tokens);
    }
    return Collections.unmodifiableList(out);
  }

  /** Appends one word or punctuation token, or the two tokens of a long word while there is room for both. */
  private static void addRandomTokens(Random r, List<String> out, int limit) {
    String previous = out.get(out.size() - 1);
    int roll = r.nextInt(100);
    if (roll < 3 && !previous.contains("\n")) {
      out.add(r.nextBoolean() ? "\n" : "\n\n");
      return;
    }
    if (roll < 15) {
      out.add(PUNCT[r.nextInt(PUNCT.length)]);
      return;
    }
    String w = WORDS[r.nextInt(WORDS.length)];
    String lead = previous.endsWith("\n") || roll < 20 ? "" : " ";
    if (lead.length() + w.length() > 8) {
      if (out.size() + 2 > limit) {
        return; // no room: draw again
      }
      out.add(lead + w.substring(0, 4)); // a long word arrives in two tokens
      out.add(w.substring(4));
      return;
    }
    out.add(lead + w);
  }

  private static List<byte[]> vllmEvents() {
    ObjectMapper m = mapper();
    String envelope = "{\"id\":\"chatcmpl-4f1c9a7e2b6d4d3f8a0e5c1b9d7f3a21\",\"object\":\"chat.completion.chunk\","
        + "\"created\":1750000000,\"model\":\"Qwen/Qwen3-32B\",\"choices\":[{\"index\":0,\"delta\":";
    List<byte[]> events = new ArrayList<>(VLLM_CHUNKS + 1);
    events.add(event(envelope + "{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]}"));
    for (String t : vllmTokens()) {
      events.add(event(envelope + "{\"content\":" + quote(m, t) + "},\"logprobs\":null,\"finish_reason\":null}]}"));
    }
    events.add(event(envelope
        + "{\"content\":\"\"},\"logprobs\":null,\"finish_reason\":\"stop\",\"stop_reason\":null}]}"));
    events.add(event("[DONE]"));
    if (events.size() != VLLM_CHUNKS + 1) {
      throw new IllegalStateException("expected " + VLLM_CHUNKS + " chunks, built " + (events.size() - 1));
    }
    return Collections.unmodifiableList(events);
  }

  private static List<byte[]> deepseekEvents() {
    String text;
    try (InputStream in = BenchStreams.class.getResourceAsStream(DEEPSEEK_RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException("missing resource " + DEEPSEEK_RESOURCE);
      }
      text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    List<byte[]> events = new ArrayList<>();
    for (String block : text.split("\n\n")) {
      if (!block.isBlank()) {
        events.add((block.strip() + "\n\n").getBytes(StandardCharsets.UTF_8));
      }
    }
    return Collections.unmodifiableList(events);
  }

  private static byte[] event(String data) {
    return ("data: " + data + "\n\n").getBytes(StandardCharsets.UTF_8);
  }

  private static String quote(ObjectMapper m, String s) {
    try {
      return m.writeValueAsString(s);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Runs the production rewrite (split mode, defaults) over a whole stream, one feed per event. */
  static byte[] rewriteAll(List<byte[]> events, ObjectMapper mapper) {
    SseRewriter r = new SseRewriter(new ChunkRewriter(ThinkOptions.defaults(), ThinkMode.SPLIT, false, mapper), mapper, Long.MAX_VALUE);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] e : events) {
      r.feed(e, 0, e.length, out);
    }
    r.finish(out);
    return out.toByteArray();
  }
}
