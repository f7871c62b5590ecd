package dev.thinkproxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.nio.charset.StandardCharsets;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** {@code /proxy/NAME/v1/...}: short names for providers' base URLs, and the closed gateway that serves only them. */
class ProviderAliasesTest {
  private static final ProviderAliases BUILT_IN = ProviderAliases.builtIn();

  private static String resolve(String path, String query) {
    return TargetResolver.resolve(path, query, BUILT_IN, false).url().toString();
  }

  private static ProxyException refusal(String path, ProviderAliases aliases, boolean aliasesOnly) {
    return catchThrowableOfType(ProxyException.class, () -> TargetResolver.resolve(path, null, aliases, aliasesOnly));
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({
      "/openai/v1/chat/completions, https://api.openai.com/v1/chat/completions",
      "/groq/v1/chat/completions, https://api.groq.com/openai/v1/chat/completions",
      "/openrouter/v1/models, https://openrouter.ai/api/v1/models",
      "/gemini/v1/chat/completions, https://generativelanguage.googleapis.com/v1beta/openai/chat/completions",
      "/perplexity/v1/chat/completions, https://api.perplexity.ai/chat/completions",
      "/anthropic/v1/messages, https://api.anthropic.com/v1/messages",
      "/chutes/v1, https://llm.chutes.ai/v1",
      "/OpenAI/v1/embeddings, https://api.openai.com/v1/embeddings",
      "/ollama/v1/chat/completions, http://localhost:11434/v1/chat/completions",
  })
  void aliasPathGoesToTheProvidersBaseUrlWithV1StandingForIt(String path, String expected) {
    assertThat(resolve(path, null)).isEqualTo(expected);
  }

  @Test
  void queryIsKeptAndTheAliasIsReported() {
    TargetResolver.Target target = TargetResolver.resolve("/deepseek/v1/files/f-1", "purpose=batch&x=%20", BUILT_IN, false);

    assertThat(target.url().toString()).isEqualTo("https://api.deepseek.com/v1/files/f-1?purpose=batch&x=%20");
    assertThat(target.alias()).isEqualTo("deepseek");
  }

  @Test
  void aBaseUrlInThePathStillWorksAndHasNoAlias() {
    TargetResolver.Target target =
        TargetResolver.resolve("/https://api.openai.com/v1/chat/completions", null, BUILT_IN, false);

    assertThat(target.url().toString()).isEqualTo("https://api.openai.com/v1/chat/completions");
    assertThat(target.alias()).isNull();
  }

  @Test
  void unknownNameIsA400NamingTheConfiguredProviders() {
    ProxyException e = refusal("/opnai/v1/chat/completions", BUILT_IN, false);

    assertThat(e.status()).isEqualTo(400);
    assertThat(e.code()).isEqualTo("unknown_provider");
    assertThat(e.getMessage()).contains("'opnai'").contains("openai, ").contains("https://api.openai.com/v1");
  }

  @ParameterizedTest
  @ValueSource(strings = {"/openai", "/openai/", "/openai/chat/completions", "/openai/v1beta/models", "/openai/v10/x"})
  void pathAfterAnAliasMustStartWithV1(String path) {
    ProxyException e = refusal(path, BUILT_IN, false);

    assertThat(e.status()).isEqualTo(400);
    assertThat(e.getMessage()).contains("/v1");
  }

  @ParameterizedTest
  @ValueSource(strings = {"/openai/v1/../../x", "/openai/v1/%2e%2e/x", "/openai/v1/a%2F..%2Fb", "/openai/v1/a\\b",
      "/openai/v1/a%0d%0aHost:x"})
  void theRestOfAnAliasPathGetsTheSameChecksAsABaseUrlPath(String path) {
    assertThat(refusal(path, BUILT_IN, false).status()).isEqualTo(400);
  }

  @ParameterizedTest
  @ValueSource(strings = {"/https://api.openai.com/v1/chat/completions", "/https:/api.openai.com/v1/chat/completions",
      "/https%3A%2F%2Fapi.openai.com/v1/chat/completions", "/HTTP:%2F%2F127.0.0.1/v1", "/https/api.openai.com/v1",
      "/", "//api.openai.com/v1"})
  void aliasesOnlyRefusesEveryOtherFormWith403(String path) {
    ProxyException e = refusal(path, BUILT_IN, true);

    assertThat(e.status()).isEqualTo(403);
    assertThat(e.code()).isEqualTo("provider_required");
    assertThat(e.getMessage()).contains("/proxy/NAME/v1/").contains("openai");
  }

  @Test
  void aliasesOnlyStillServesAliases() {
    assertThat(TargetResolver.resolve("/groq/v1/models", null, BUILT_IN, true).url().toString())
        .isEqualTo("https://api.groq.com/openai/v1/models");
  }

  @Nested
  class Configuration {
    @Test
    void builtInSetHasTheWellKnownProviders() {
      assertThat(BUILT_IN.asMap()).containsKeys("openai", "openrouter", "deepseek", "groq", "together", "fireworks",
          "chutes", "mistral", "gemini", "ollama", "vllm");
      assertThat(BUILT_IN.asMap().get("groq")).isEqualTo("https://api.groq.com/openai/v1");
    }

    @Test
    void toBuilderOverridesAddsAndRemoves() {
      ProviderAliases mine = BUILT_IN.toBuilder()
          .put("openai", "https://gateway.example.com/openai/v1/")
          .put("Local-GPU", "http://10.0.0.5:8000/v1")
          .remove("ollama")
          .build();

      assertThat(mine.asMap().get("openai")).isEqualTo("https://gateway.example.com/openai/v1");
      assertThat(mine.asMap().get("local-gpu")).isEqualTo("http://10.0.0.5:8000/v1");
      assertThat(mine.asMap()).doesNotContainKey("ollama");
      assertThat(BUILT_IN.asMap()).containsKey("ollama").containsEntry("openai", "https://api.openai.com/v1");
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "api.openai.com", "https", "HTTP", "a:b", "a%3A", "a/b", "-x", "näme", "a b",
        "a-very-long-name-that-goes-on-and-on-and-on-beyond-sixty-four-chars-x"})
    void namesThatCouldBeReadAsAUrlOrAreNotPlainAreRefused(String name) {
      assertThatThrownBy(() -> ProviderAliases.builder().put(name, "https://example.com/v1"))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("invalid provider name");
    }

    @ParameterizedTest
    @ValueSource(strings = {"ftp://example.com/v1", "example.com/v1", "https://user:pw@example.com/v1",
        "https://example.com/v1?key=1", "https://example.com/v1#x", "https:/example.com/v1"})
    void baseUrlsMustBePlainHttpOrHttpsUrls(String url) {
      assertThatThrownBy(() -> ProviderAliases.builder().put("mine", url))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("provider 'mine'");
    }

    @Test
    void aliasesOnlyWithoutAnyAliasIsRefusedAtBuild() {
      assertThatThrownBy(() -> ChatCompletionProxy.builder().providers(ProviderAliases.none()).aliasesOnly(true).build())
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("aliases-only");
    }
  }

  @Nested
  class ThroughTheProxy {
    @Test
    void aliasReachesItsBaseUrlAndTheAnswerIsRewritten() throws Exception {
      try (MockWebServer upstream = new MockWebServer()) {
        upstream.start();
        upstream.enqueue(new MockResponse.Builder()
            .setHeader("Content-Type", "application/json")
            .body("{\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                + "\"content\":\"<think>hm</think>Hi\"}}]}")
            .build());
        String base = "http://127.0.0.1:" + upstream.getPort() + "/prefix/v1";
        try (ChatCompletionProxy proxy = ChatCompletionProxy.builder()
            .targetPolicy(TargetPolicy.builder().allowHost("127.0.0.1:" + upstream.getPort()).build())
            .providers(ProviderAliases.builtIn().toBuilder().put("local", base).build())
            .aliasesOnly(true)
            .build()) {
          RecordingSink got = RecordingSink.forward(proxy, ProxyRequest.builder()
              .targetPath("/local/v1/chat/completions")
              .query("api-version=1")
              .addHeader("Authorization", "Bearer sk-x")
              .addHeader("Content-Type", "application/json")
              .body("{\"model\":\"m\"}".getBytes(StandardCharsets.UTF_8))
              .build());

          RecordedRequest sent = upstream.takeRequest();
          assertThat(sent.getTarget()).isEqualTo("/prefix/v1/chat/completions?api-version=1");
          assertThat(sent.getHeaders().get("Authorization")).isEqualTo("Bearer sk-x");
          assertThat(got.status()).isEqualTo(200);
          assertThat(Sse.MAPPER.readTree(got.body()).at("/choices/0/message/reasoning_content").asText()).isEqualTo("hm");
        }
      }
    }

    @Test
    void theTargetPolicyStillAppliesToAliases() throws Exception {
      try (MockWebServer upstream = new MockWebServer()) {
        upstream.start();
        try (ChatCompletionProxy proxy = ChatCompletionProxy.builder()
            .providers(ProviderAliases.builder().put("local", "http://127.0.0.1:" + upstream.getPort() + "/v1").build())
            .build()) {
          RecordingSink got = RecordingSink.forward(proxy, ProxyRequest.builder()
              .targetPath("/local/v1/chat/completions")
              .body("{}".getBytes(StandardCharsets.UTF_8))
              .build());

          assertThat(got.status()).isEqualTo(403);
          assertThat(upstream.getRequestCount()).isZero();
        }
      }
    }
  }
}
