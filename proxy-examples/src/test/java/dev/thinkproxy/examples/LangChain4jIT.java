package dev.thinkproxy.examples;

import static org.assertj.core.api.Assertions.assertThat;

import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.PartialThinking;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.openai.OpenAiStreamingChatModel;
import java.io.IOException;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * LangChain4j's OpenAI streaming model (its own client on the JDK's HttpClient) talks to a provider through the
 * standalone server: with {@code returnThinking(true)} it reads the reasoning the proxy moved out of the tags, and
 * without it, in {@code wrap} mode, a client that reads only the answer text still gets the reasoning, in tags.
 */
class LangChain4jIT {
  /** Guards against hangs only; when things work every stream here ends within milliseconds. */
  private static final long HANG_GUARD_SECONDS = 20;

  private MockWebServer upstream;
  /** The standalone server of the test, started by {@link #modelThroughProxy}. */
  private ThinkProxyServer proxyServer;

  @BeforeEach
  void startUpstream() throws IOException {
    upstream = new MockWebServer();
    upstream.start(InetAddress.getByName("127.0.0.1"), 0);
  }

  @AfterEach
  void stop() {
    if (proxyServer != null) {
      proxyServer.close();
    }
    upstream.close();
  }

  /** A LangChain4j model whose base URL is the provider's behind a standalone server started with {@code flags}. */
  private OpenAiStreamingChatModel.OpenAiStreamingChatModelBuilder modelThroughProxy(String... flags) {
    List<String> args = new ArrayList<>(List.of("--port", "0", "--allow-host", "127.0.0.1:" + upstream.getPort()));
    args.addAll(List.of(flags));
    proxyServer = ThinkProxyServer.start(args.toArray(String[]::new));
    return OpenAiStreamingChatModel.builder()
        .baseUrl("http://127.0.0.1:" + proxyServer.port() + "/proxy/http://127.0.0.1:" + upstream.getPort() + "/v1")
        .apiKey("sk-test")
        .modelName("test-model");
  }

  /** What the model's handler received. */
  private record Streamed(String partialText, String partialThinking, ChatResponse response) {}

  private static Streamed stream(OpenAiStreamingChatModel model) throws Exception {
    StringBuilder text = new StringBuilder();
    StringBuilder thinking = new StringBuilder();
    CompletableFuture<ChatResponse> done = new CompletableFuture<>();
    model.chat("What is the answer?", new StreamingChatResponseHandler() {
      @Override
      public void onPartialResponse(String partial) {
        text.append(partial);
      }

      @Override
      public void onPartialThinking(PartialThinking partial) {
        thinking.append(partial.text());
      }

      @Override
      public void onCompleteResponse(ChatResponse response) {
        done.complete(response);
      }

      @Override
      public void onError(Throwable error) {
        done.completeExceptionally(error);
      }
    });
    ChatResponse response = done.get(HANG_GUARD_SECONDS, TimeUnit.SECONDS);
    return new Streamed(text.toString(), thinking.toString(), response);
  }

  @Test
  void streamingModelGetsTheAnswerAndTheReasoningApart() throws Exception {
    upstream.enqueue(Sse.thinkStream());

    Streamed got = stream(modelThroughProxy().returnThinking(true).build());

    assertThat(got.partialText()).isEqualTo(Sse.ANSWER);
    assertThat(got.partialThinking()).isEqualTo(Sse.REASONING);
    assertThat(got.response().aiMessage().text()).isEqualTo(Sse.ANSWER);
    assertThat(got.response().aiMessage().thinking()).isEqualTo(Sse.REASONING);
    RecordedRequest request = upstream.takeRequest(HANG_GUARD_SECONDS, TimeUnit.SECONDS);
    assertThat(request).as("the upstream received the model's request").isNotNull();
    assertThat(request.getTarget()).isEqualTo("/v1/chat/completions");
    assertThat(request.getHeaders().get("Authorization")).isEqualTo("Bearer sk-test");
    assertThat(RawHttp.JSON.readTree(request.getBody().utf8()).path("stream").asBoolean()).isTrue();
  }

  @Test
  void wrapModeGivesAContentOnlyClientTheReasoningInTags() throws Exception {
    upstream.enqueue(Sse.reasoningFieldStream());

    // No returnThinking: the model reads only content, as most clients do.
    Streamed got = stream(modelThroughProxy("--think-mode", "wrap").build());

    String expected = "<think>\n" + Sse.REASONING + "\n</think>\n\n" + Sse.ANSWER;
    assertThat(got.partialText()).isEqualTo(expected);
    assertThat(got.response().aiMessage().text()).isEqualTo(expected);
    assertThat(got.partialThinking()).isEmpty();
  }
}
