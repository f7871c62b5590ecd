package dev.thinkproxy.examples;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import mockwebserver3.MockResponse;
import mockwebserver3.MockResponseBody;
import okio.BufferedSink;

/** Upstream SSE bodies for the tests, and a reader for what the proxy sends back. */
final class Sse {
  /** What every think test expects once the proxy has split the stream. */
  static final String ANSWER = "The answer is 42.";
  static final String REASONING = "Let me think.";

  /** The answer with {@code <think>} cut across events, as a provider streams it. */
  static final List<String> THINK_SPLIT_PIECES =
      List.of("", "<th", "ink>Let me ", "think.</thi", "nk>\n\nThe answer", " is 42.");

  private Sse() {}

  /** One {@code chat.completion.chunk} event for choice 0. */
  static String chunkEvent(String content, String finishReason) {
    ObjectNode chunk = chunk(finishReason);
    if (content != null) {
      ObjectNode delta = (ObjectNode) chunk.path("choices").path(0).path("delta");
      if (content.isEmpty()) {
        delta.put("role", "assistant");
      }
      delta.put("content", content);
    }
    return "data: " + chunk + "\n\n";
  }

  /** One event whose delta carries reasoning in its own {@code reasoning_content} field, as DeepSeek streams it. */
  static String reasoningEvent(String reasoning) {
    ObjectNode chunk = chunk(null);
    ((ObjectNode) chunk.path("choices").path(0).path("delta")).put("reasoning_content", reasoning);
    return "data: " + chunk + "\n\n";
  }

  /** A chunk for choice 0 with an empty delta. */
  private static ObjectNode chunk(String finishReason) {
    ObjectNode chunk = RawHttp.JSON.createObjectNode();
    chunk.put("id", "chatcmpl-1");
    chunk.put("object", "chat.completion.chunk");
    chunk.put("created", 1700000000);
    chunk.put("model", "test-model");
    ObjectNode choice = chunk.putArray("choices").addObject();
    choice.put("index", 0);
    choice.putObject("delta");
    if (finishReason == null) {
      choice.putNull("finish_reason");
    } else {
      choice.put("finish_reason", finishReason);
    }
    return chunk;
  }

  /**
   * A stream whose reasoning comes in {@code reasoning_content} deltas before the answer's {@code content}
   * deltas, as providers with a reasoning parser send it.
   */
  static MockResponse reasoningFieldStream() {
    String body = chunkEvent("", null)
        + reasoningEvent("Let me ")
        + reasoningEvent("think.")
        + chunkEvent("The answer", null)
        + chunkEvent(" is 42.", null)
        + chunkEvent(null, "stop")
        + "data: [DONE]\n\n";
    return streamResponse(body);
  }

  /** A whole upstream stream: one event per piece, a finish event and {@code [DONE]}. */
  static String streamBody(List<String> pieces) {
    StringBuilder sb = new StringBuilder();
    for (String p : pieces) {
      sb.append(chunkEvent(p, null));
    }
    sb.append(chunkEvent(null, "stop"));
    sb.append("data: [DONE]\n\n");
    return sb.toString();
  }

  /**
   * Writes {@code text} as one HTTP chunk and flushes it, for an upstream body that frames itself (a custom
   * MockWebServer body is written as is).
   */
  static void writeChunk(BufferedSink sink, String text) throws IOException {
    byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
    sink.writeUtf8(Integer.toHexString(bytes.length)).writeUtf8("\r\n").write(bytes).writeUtf8("\r\n");
    sink.flush();
  }

  static MockResponse streamResponse(String body) {
    return new MockResponse.Builder()
        .code(200)
        .setHeader("Content-Type", "text/event-stream; charset=utf-8")
        .setHeader("Cache-Control", "no-cache")
        .body(body)
        .build();
  }

  static MockResponse thinkStream() {
    return streamResponse(streamBody(THINK_SPLIT_PIECES));
  }

  /** A non-streaming chat completion whose message content carries a think block. */
  static MockResponse thinkCompletion() {
    String json = "{\"id\":\"chatcmpl-2\",\"object\":\"chat.completion\",\"created\":1700000000,"
        + "\"model\":\"test-model\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
        + "\"content\":\"<think>Let me think.</think>\\n\\nThe answer is 42.\"},\"finish_reason\":\"stop\"}],"
        + "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":9,\"total_tokens\":14}}";
    return new MockResponse.Builder()
        .code(200)
        .setHeader("Content-Type", "application/json")
        .body(json)
        .build();
  }

  /** What an upstream writes into a chunked event-stream body, one {@link #writeChunk} per event. */
  interface ChunkWriter {
    void write(BufferedSink sink) throws IOException, InterruptedException;
  }

  /**
   * A chunked event-stream response whose body {@code writer} writes as it goes (pausing, waiting for the test),
   * ended with the last chunk once it returns.
   */
  static MockResponse chunkedStream(ChunkWriter writer) {
    // MockWebServer writes a custom body as is, so the body frames itself: one HTTP chunk per event.
    MockResponseBody body = new MockResponseBody() {
      @Override
      public long getContentLength() {
        return -1;
      }

      @Override
      public void writeTo(BufferedSink sink) throws IOException {
        try {
          writer.write(sink);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IOException(e);
        }
        sink.writeUtf8("0\r\n\r\n");
        sink.flush();
      }
    };
    return new MockResponse.Builder()
        .setHeader("Content-Type", "text/event-stream")
        .setHeader("Transfer-Encoding", "chunked")
        .body(body)
        .build();
  }

  /**
   * Asserts that {@code response} is the {@link #thinkStream()} split by the proxy in the default mode: an event
   * stream with the answer in {@code content}, the reasoning in {@code reasoning_content}, and {@code [DONE]}.
   */
  static void assertSplitThinkStream(RawHttp.Response response) throws IOException {
    assertThat(response.status()).as("%s", response).isEqualTo(200);
    assertThat(response.header("Content-Type")).startsWith("text/event-stream");
    Received got = read(response.bodyText(), "reasoning_content");
    assertThat(got.content()).isEqualTo(ANSWER);
    assertThat(got.reasoning()).isEqualTo(REASONING);
    assertThat(got.done()).isTrue();
  }

  /** The client's view of a stream. */
  record Received(List<JsonNode> chunks, String content, String reasoning, String otherReasoning, boolean done,
      List<String> rawDataLines) {}

  /**
   * Reads an SSE body: concatenates choice 0's {@code delta.content}, the {@code reasoningField} and the other
   * reasoning field name (which must stay empty), and notes whether {@code [DONE]} came.
   */
  static Received read(String body, String reasoningField) throws IOException {
    String other = reasoningField.equals("reasoning") ? "reasoning_content" : "reasoning";
    List<JsonNode> chunks = new ArrayList<>();
    List<String> data = new ArrayList<>();
    StringBuilder content = new StringBuilder();
    StringBuilder reasoning = new StringBuilder();
    StringBuilder otherReasoning = new StringBuilder();
    boolean done = false;
    for (String line : body.split("\r?\n", -1)) {
      if (!line.startsWith("data:")) {
        continue;
      }
      String payload = line.substring(5).strip();
      data.add(payload);
      if (payload.equals("[DONE]")) {
        done = true;
        continue;
      }
      JsonNode chunk = RawHttp.JSON.readTree(payload);
      chunks.add(chunk);
      for (JsonNode choice : chunk.path("choices")) {
        JsonNode delta = choice.path("delta");
        content.append(delta.path("content").asText(""));
        reasoning.append(delta.path(reasoningField).asText(""));
        otherReasoning.append(delta.path(other).asText(""));
      }
    }
    return new Received(chunks, content.toString(), reasoning.toString(), otherReasoning.toString(), done, data);
  }
}
