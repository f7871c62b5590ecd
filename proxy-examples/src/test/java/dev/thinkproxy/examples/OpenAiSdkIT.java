package dev.thinkproxy.examples;

import static org.assertj.core.api.Assertions.assertThat;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonString;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionMessage;
import dev.thinkproxy.ChatCompletionProxy;
import java.io.IOException;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The official OpenAI Java SDK (OkHttp transport) talks to a provider through the standalone server. Reasoning is
 * not a typed field of the SDK's models, so it is read from the additional properties (deprecated accessor, still
 * the SDK's only way to reach unknown fields), or, in {@code wrap} mode, from the content itself.
 */
@SuppressWarnings("deprecation")
class OpenAiSdkIT {
  private MockWebServer upstream;
  private ThinkProxyServer server;
  private OpenAIClient client;

  @BeforeEach
  void setUp() throws IOException {
    upstream = new MockWebServer();
    upstream.start(InetAddress.getByName("127.0.0.1"), 0);
    server = ThinkProxyServer.start("--port", "0", "--allow-private-networks");
    client = OpenAIOkHttpClient.builder()
        .apiKey("sk-test")
        .baseUrl("http://127.0.0.1:" + server.port() + "/proxy/http://127.0.0.1:" + upstream.getPort() + "/v1")
        .maxRetries(0)
        .build();
  }

  @AfterEach
  void tearDown() {
    if (client != null) {
      client.close();
    }
    if (server != null) {
      server.close();
    }
    upstream.close();
  }

  private static ChatCompletionCreateParams params() {
    return ChatCompletionCreateParams.builder()
        .model("test-model")
        .addUserMessage("What is the answer?")
        .build();
  }

  @Test
  void streamingCompletionArrivesSplitIntoContentAndReasoning() throws Exception {
    upstream.enqueue(Sse.thinkStream());

    StringBuilder content = new StringBuilder();
    StringBuilder reasoning = new StringBuilder();
    List<String> finishReasons = new ArrayList<>();
    try (StreamResponse<ChatCompletionChunk> stream = client.chat().completions().createStreaming(params())) {
      stream.stream().forEach(chunk -> {
        for (ChatCompletionChunk.Choice choice : chunk.choices()) {
          ChatCompletionChunk.Choice.Delta delta = choice.delta();
          delta.content().ifPresent(content::append);
          JsonValue r = delta._additionalProperties().get("reasoning_content");
          if (r != null) {
            assertThat(r).as("delta.reasoning_content").isInstanceOf(JsonString.class);
            reasoning.append(((JsonString) r).value());
          }
          choice.finishReason().ifPresent(f -> finishReasons.add(f.asString()));
        }
      });
    }

    assertThat(content.toString()).isEqualTo(Sse.ANSWER);
    assertThat(reasoning.toString()).isEqualTo(Sse.REASONING);
    assertThat(finishReasons).containsExactly("stop");

    RecordedRequest request = upstream.takeRequest(10, TimeUnit.SECONDS);
    assertThat(request).as("the upstream received the SDK's request").isNotNull();
    assertThat(request.getMethod()).isEqualTo("POST");
    assertThat(request.getTarget()).isEqualTo("/v1/chat/completions");
    assertThat(request.getHeaders().get("Authorization")).isEqualTo("Bearer sk-test");
    String body = request.getBody().utf8();
    assertThat(RawHttp.JSON.readTree(body).path("stream").asBoolean()).as("request body %s", body).isTrue();
    assertThat(RawHttp.JSON.readTree(body).path("model").asText()).isEqualTo("test-model");
  }

  @Test
  void wrapModeGivesTheSdkTheReasoningInTagsInContent() throws Exception {
    upstream.enqueue(Sse.reasoningFieldStream());
    ChatCompletionCreateParams wrap = params().toBuilder()
        .putAdditionalHeader(ChatCompletionProxy.MODE_HEADER, "wrap")
        .build();

    StringBuilder content = new StringBuilder();
    try (StreamResponse<ChatCompletionChunk> stream = client.chat().completions().createStreaming(wrap)) {
      stream.stream().forEach(chunk -> chunk.choices().forEach(c -> c.delta().content().ifPresent(content::append)));
    }

    assertThat(content.toString()).isEqualTo("<think>\n" + Sse.REASONING + "\n</think>\n\n" + Sse.ANSWER);
    RecordedRequest request = upstream.takeRequest(10, TimeUnit.SECONDS);
    assertThat(request).isNotNull();
    assertThat(request.getHeaders().get(ChatCompletionProxy.MODE_HEADER)).as("consumed by the proxy").isNull();
  }

  @Test
  void nonStreamingCompletionArrivesSplitIntoContentAndReasoning() throws Exception {
    upstream.enqueue(Sse.thinkCompletion());

    ChatCompletion completion = client.chat().completions().create(params());

    ChatCompletionMessage message = completion.choices().get(0).message();
    assertThat(message.content()).contains(Sse.ANSWER);
    JsonValue reasoning = message._additionalProperties().get("reasoning_content");
    assertThat(reasoning).as("message.reasoning_content in %s", completion).isInstanceOf(JsonString.class);
    assertThat(((JsonString) reasoning).value()).isEqualTo(Sse.REASONING);
    assertThat(completion.usage().orElseThrow().totalTokens()).isEqualTo(14);

    RecordedRequest request = upstream.takeRequest(10, TimeUnit.SECONDS);
    assertThat(request).isNotNull();
    assertThat(request.getTarget()).isEqualTo("/v1/chat/completions");
    assertThat(request.getHeaders().get("Authorization")).isEqualTo("Bearer sk-test");
    assertThat(RawHttp.JSON.readTree(request.getBody().utf8()).has("stream")).isFalse();
  }
}
