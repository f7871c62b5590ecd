package dev.thinkproxy.examples.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.thinkproxy.ChatCompletionProxy;
import dev.thinkproxy.ThinkMode;
import dev.thinkproxy.servlet.InitParams;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.boot.env.YamlPropertySourceLoader;
import org.springframework.core.env.MapPropertySource;
import org.springframework.core.env.StandardEnvironment;
import org.springframework.core.env.SystemEnvironmentPropertySource;
import org.springframework.core.io.ByteArrayResource;
import org.springframework.core.io.ClassPathResource;
import org.springframework.core.io.Resource;

class ThinkProxySettingsTest {
  private final StandardEnvironment environment = new StandardEnvironment();

  private void addYaml(Resource yaml) throws IOException {
    new YamlPropertySourceLoader().load("yaml", yaml).forEach(environment.getPropertySources()::addLast);
  }

  private void addYaml(String yaml) throws IOException {
    addYaml(new ByteArrayResource(yaml.getBytes(StandardCharsets.UTF_8)));
  }

  private void addFirst(String name, Map<String, Object> properties) {
    environment.getPropertySources().addFirst(new MapPropertySource(name, properties));
  }

  @Test
  void yamlListsAndScalarsReachTheSettingsUnderTheFlagNames() throws IOException {
    addYaml("""
        thinkproxy:
          think-mode: wrap
          allow-host:
            - api.openai.com
            - "*.chutes.ai"
          provider: [ "local=http://10.0.0.5:8000/v1", "openai=" ]
          implicit-open-models: "qwq|deepseek-r1.{0,3}"
        """);

    ThinkProxySettings settings = ThinkProxySettings.bind(environment);

    assertThat(settings.get(InitParams.THINK_MODE)).isEqualTo("wrap");
    assertThat(settings.get(InitParams.ALLOW_HOST)).isEqualTo("api.openai.com,*.chutes.ai");
    assertThat(settings.get(InitParams.PROVIDER)).isEqualTo("local=http://10.0.0.5:8000/v1,openai=");
    assertThat(settings.get(InitParams.IMPLICIT_OPEN_MODELS)).isEqualTo("qwq|deepseek-r1.{0,3}");
    assertThat(settings.get(InitParams.REASONING_FIELD)).isNull();

    ChatCompletionProxy proxy = settings.proxyBuilder().build();
    try {
      assertThat(proxy.thinkOptions().mode()).isEqualTo(ThinkMode.WRAP);
      assertThat(proxy.providers().asMap()).containsKey("local").doesNotContainKey("openai");
    } finally {
      proxy.close();
    }
  }

  @Test
  void aListGivenInAHigherSourceReplacesTheYamlList() throws IOException {
    addYaml("""
        thinkproxy:
          allow-host: [ api.openai.com, api.deepseek.com ]
        """);
    addFirst("commandLineArgs", Map.of("thinkproxy.allow-host", "127.0.0.1:8000"));

    assertThat(ThinkProxySettings.bind(environment).get(InitParams.ALLOW_HOST)).isEqualTo("127.0.0.1:8000");
  }

  @Test
  void theStandaloneServersEnvironmentVariablesWork() {
    environment.getPropertySources().replace(StandardEnvironment.SYSTEM_ENVIRONMENT_PROPERTY_SOURCE_NAME,
        new SystemEnvironmentPropertySource(StandardEnvironment.SYSTEM_ENVIRONMENT_PROPERTY_SOURCE_NAME, Map.of(
            "THINKPROXY_THINK_MODE", "strip",
            "THINKPROXY_ALLOW_PRIVATE_NETWORKS", "true",
            "THINKPROXY_PORT", "9000")));

    ThinkProxySettings settings = ThinkProxySettings.bind(environment);

    assertThat(settings.get(InitParams.THINK_MODE)).isEqualTo("strip");
    assertThat(settings.get(InitParams.ALLOW_PRIVATE_NETWORKS)).isEqualTo("true");
  }

  @Test
  void aMisspeltSettingFailsNamingIt() {
    addFirst("commandLineArgs", Map.of("thinkproxy.allow-hosts", "api.openai.com"));

    assertThatThrownBy(() -> ThinkProxySettings.bind(environment))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("thinkproxy.allow-hosts is not a thinkproxy setting")
        .hasMessageContaining("thinkproxy.allow-host,");
  }

  @Test
  void anInvalidValueFailsNamingTheSetting() {
    addFirst("commandLineArgs", Map.of("thinkproxy.idle-timeout", "soon"));

    assertThatThrownBy(() -> ThinkProxySettings.bind(environment).proxyBuilder())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("idle-timeout must be a duration");
  }

  @Test
  void theExampleApplicationYmlBinds() throws IOException {
    addYaml(new ClassPathResource("application.yml"));

    ThinkProxySettings settings = ThinkProxySettings.bind(environment);

    assertThat(settings.get(InitParams.THINK_MODE)).isEqualTo("split");
    assertThat(settings.get(InitParams.ALLOW_HOST)).contains("api.openai.com,");
    ChatCompletionProxy proxy = settings.proxyBuilder().build();
    try {
      assertThat(proxy.providers().asMap()).containsKey("local");
    } finally {
      proxy.close();
    }
  }
}
