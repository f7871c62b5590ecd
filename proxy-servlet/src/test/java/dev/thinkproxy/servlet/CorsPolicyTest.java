package dev.thinkproxy.servlet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** {@link CorsPolicy}: what an origin is, how it is compared, and the configurations refused at start. */
class CorsPolicyTest {

  @Test
  void disabledAllowsNoOriginAndIsTheDefault() {
    assertThat(CorsPolicy.disabled().enabled()).isFalse();
    assertThat(CorsPolicy.disabled().allowsOrigin("https://chat.example.com")).isFalse();
    assertThat(CorsPolicy.builder().build().enabled()).isFalse();
    assertThat(CorsPolicy.builder().build().allowsCredentials()).isFalse();
    assertThat(CorsPolicy.builder().build().maxAge()).isEqualTo(Duration.ofSeconds(600));
  }

  @ParameterizedTest(name = "{0} allows {1}")
  @CsvSource({
      "https://chat.example.com,       https://chat.example.com",
      "HTTPS://Chat.Example.COM,       https://chat.example.com",
      "https://chat.example.com,       https://CHAT.example.com",
      "http://localhost:5173,          http://localhost:5173",
      "https://chat.example.com:443,   https://chat.example.com",
      "http://127.0.0.1:80,            http://127.0.0.1",
      "https://chat.example.com:8443,  https://chat.example.com:8443",
      "http://[::1]:3000,              http://[::1]:3000",
      "chrome-extension://abcdefghij,  chrome-extension://abcdefghij",
      "' https://chat.example.com ',   https://chat.example.com"})
  void originIsComparedBySchemeHostAndPortIgnoringCase(String configured, String requestOrigin) {
    CorsPolicy policy = CorsPolicy.builder().allowOrigin(configured).build();

    assertThat(policy.allowsOrigin(requestOrigin)).isTrue();
  }

  @ParameterizedTest(name = "https://chat.example.com does not allow {0}")
  @ValueSource(strings = {
      "http://chat.example.com", "https://chat.example.com:8443", "https://evil.example.com",
      "https://chat.example.com.evil.example", "https://sub.chat.example.com", "null", ""})
  void anyOtherSchemeHostOrPortIsNotAllowed(String requestOrigin) {
    CorsPolicy policy = CorsPolicy.builder().allowOrigin("https://chat.example.com").build();

    assertThat(policy.allowsOrigin(requestOrigin)).isFalse();
  }

  @Test
  void missingOriginIsNeverAllowed() {
    assertThat(CorsPolicy.builder().allowOrigin("*").build().allowsOrigin(null)).isFalse();
  }

  @Test
  void wildcardAllowsEveryOrigin() {
    CorsPolicy policy = CorsPolicy.builder().allowOrigin("*").build();

    assertThat(policy.enabled()).isTrue();
    assertThat(policy.allowsAnyOrigin()).isTrue();
    assertThat(policy.allowsOrigin("https://anything.example")).isTrue();
  }

  @Test
  void originsAreKeptNormalised() {
    CorsPolicy policy = CorsPolicy.builder()
        .allowOrigin("HTTPS://Chat.Example.com:443")
        .allowOrigins(List.of("http://localhost:5173", "https://chat.example.com"))
        .build();

    assertThat(policy.allowedOrigins()).containsExactlyInAnyOrder("https://chat.example.com", "http://localhost:5173");
  }

  @ParameterizedTest(name = "\"{0}\" is refused")
  @ValueSource(strings = {
      "https://chat.example.com/", "https://chat.example.com/app", "https://chat.example.com?x=1",
      "https://chat.example.com#top", "chat.example.com", "//chat.example.com", "https://",
      "https://user@chat.example.com", "https://chat.example.com:0", "https://chat.example.com:65536",
      "https://chat.example.com:http", "null", "**", "https://*.example.com", "", "https://chat example.com"})
  void anythingButSchemeHostAndPortIsRefusedNamingTheValue(String origin) {
    assertThatThrownBy(() -> CorsPolicy.builder().allowOrigin(origin))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("\"" + origin + "\"");
  }

  @Test
  void wildcardWithCredentialsIsRefusedAtBuild() {
    CorsPolicy.Builder builder = CorsPolicy.builder().allowOrigin("*").allowCredentials(true);

    assertThatThrownBy(builder::build)
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("*")
        .hasMessageContaining("credentials");
  }

  @Test
  void listedOriginsWithCredentialsAreAccepted() {
    CorsPolicy policy = CorsPolicy.builder().allowOrigin("https://chat.example.com").allowCredentials(true).build();

    assertThat(policy.allowsCredentials()).isTrue();
  }

  @Test
  void negativeMaxAgeIsRefused() {
    assertThatThrownBy(() -> CorsPolicy.builder().maxAge(Duration.ofSeconds(-1)))
        .isInstanceOf(IllegalArgumentException.class);
  }

  /** {@link InitParams#corsPolicy}: the same rules, with errors that name the init-params. */
  @Nested
  class FromInitParams {

    private CorsPolicy corsPolicy(Map<String, String> settings) {
      return InitParams.corsPolicy(settings::get);
    }

    @Test
    void noSettingsMeansCorsOff() {
      assertThat(corsPolicy(Map.of()).enabled()).isFalse();
    }

    @Test
    void everySettingIsRead() {
      CorsPolicy policy = corsPolicy(Map.of(
          InitParams.CORS_ORIGIN, "https://chat.example.com, http://localhost:5173,",
          InitParams.CORS_ALLOW_CREDENTIALS, "true",
          InitParams.CORS_MAX_AGE, "2m"));

      assertThat(policy.allowedOrigins()).containsExactlyInAnyOrder("https://chat.example.com", "http://localhost:5173");
      assertThat(policy.allowsCredentials()).isTrue();
      assertThat(policy.maxAge()).isEqualTo(Duration.ofMinutes(2));
    }

    @Test
    void theNamesAreListedWithTheOthers() {
      assertThat(InitParams.NAMES).contains(InitParams.CORS_ORIGIN, InitParams.CORS_ALLOW_CREDENTIALS,
          InitParams.CORS_MAX_AGE);
    }

    @Test
    void wildcardWithCredentialsNamesBothSettings() {
      assertThatThrownBy(() -> corsPolicy(Map.of(InitParams.CORS_ORIGIN, "*", InitParams.CORS_ALLOW_CREDENTIALS, "")))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("cors-origin")
          .hasMessageContaining("cors-allow-credentials");
    }

    @Test
    void invalidOriginNamesTheSettingAndTheValue() {
      assertThatThrownBy(() -> corsPolicy(Map.of(InitParams.CORS_ORIGIN, "https://ok.example,https://bad.example/")))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageStartingWith("cors-origin: ")
          .hasMessageContaining("https://bad.example/");
    }

    @ParameterizedTest
    @CsvSource({"cors-max-age, soon", "cors-max-age, PT-5S", "cors-allow-credentials, maybe"})
    void invalidValuesNameTheSetting(String name, String value) {
      assertThatThrownBy(() -> corsPolicy(Map.of(name, value)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageStartingWith(name);
    }
  }
}
