package dev.thinkproxy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.util.List;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code POST …/v1/completions} through the whole proxy, a real local server as upstream: the answer is split as
 * a chat completion's is, and the proxy's listeners hear of reasoning, answer and usage, in mode off too.
 */
class LegacyCompletionsProxyTest {
  private static final String STREAM = Chunks.stream(LegacyChunks.text("<think>plan"),
      LegacyChunks.text("</think>\n\nanswer"), withUsage(LegacyChunks.parse(LegacyChunks.finish(0, "stop"))),
      "[DONE]");

  private final RecordingListener heard = new RecordingListener();
  @StartStop
  private final MockWebServer upstream = new MockWebServer();
  private ChatCompletionProxy proxy;

  /** The events about the answer's text and usage, in the order heard. */
  private List<String> answerEvents() {
    return heard.names.stream().filter(n -> n.startsWith("first") && !n.equals("firstByte") || n.equals("usage")).toList();
  }

  @BeforeEach
  void buildProxy() {
    TargetPolicy local = TargetPolicy.builder().allowHost("127.0.0.1:" + upstream.getPort()).build();
    proxy = ChatCompletionProxy.builder().targetPolicy(local).addListener(heard).build();
  }

  @AfterEach
  void closeProxy() {
    proxy.close();
  }

  private static String withUsage(ObjectNode chunk) {
    chunk.putObject("usage").put("prompt_tokens", 4).put("completion_tokens", 6)
        .putObject("completion_tokens_details").put("reasoning_tokens", 2);
    return Chunks.json(chunk);
  }

  private RecordingSink complete(String contentType, String answer, boolean stream, String mode) throws Exception {
    upstream.enqueue(new MockResponse.Builder().setHeader("Content-Type", contentType).body(answer).build());
    ProxyRequest.Builder request = ProxyRequest.builder()
        .targetPath("/http://127.0.0.1:" + upstream.getPort() + "/v1/completions")
        .addHeader("Content-Type", "application/json")
        .body(("{\"model\":\"m\",\"prompt\":\"p\",\"stream\":" + stream + "}").getBytes(StandardCharsets.UTF_8));
    if (mode != null) {
      request.addHeader(ChatCompletionProxy.MODE_HEADER, mode);
    }
    return RecordingSink.forward(proxy, request.build());
  }

  @Test
  void streamedCompletionIsSplitAndHeard() throws Exception {
    RecordingSink got = complete("text/event-stream", STREAM, true, null);

    assertThat(LegacyChunks.clientText(got.body()).get(0)).isEqualTo(new Sse.Text("plan", "answer"));
    assertThat(answerEvents()).containsExactly("firstReasoning", "firstContent", "usage");
    assertThat(heard.usages).containsExactly(new TokenUsage(4, 6, 10, 2));
  }

  @Test
  void offModeRelaysTheStreamAsItCameAndIsStillHeard() throws Exception {
    RecordingSink got = complete("text/event-stream", STREAM, true, "off");

    assertThat(new String(got.body(), StandardCharsets.UTF_8)).isEqualTo(STREAM);
    assertThat(answerEvents()).containsExactly("firstReasoning", "firstContent", "usage");
  }

  @Test
  void nonStreamingCompletionIsSplitAndHeard() throws Exception {
    ObjectNode body = LegacyChunks.body("<think>plan</think>answer");

    RecordingSink got = complete("application/json", Chunks.json(body), false, null);

    assertThat(LegacyChunks.bodyText(LegacyChunks.parse(new String(got.body(), StandardCharsets.UTF_8)),
        "reasoning_content")).isEqualTo(new Sse.Text("plan", "answer"));
    assertThat(answerEvents()).containsExactly("firstReasoning", "firstContent", "usage");
    assertThat(heard.usages).containsExactly(new TokenUsage(5, 7, 12, 0));
  }
}
