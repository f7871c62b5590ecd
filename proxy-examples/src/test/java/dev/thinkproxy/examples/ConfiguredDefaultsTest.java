package dev.thinkproxy.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.thinkproxy.servlet.InitParams;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * The server's options from the command line, the environment and a config file, parsed without starting the
 * server: flags beat environment variables, which beat the file, which beats the built-in defaults.
 */
class ConfiguredDefaultsTest {
  @TempDir
  Path dir;

  private Path write(String name, String content) throws IOException {
    return Files.writeString(dir.resolve(name), content);
  }

  /** The server configured from {@code flags}, {@code env} and, when not null, the config file. */
  private static ThinkProxyServer configure(Map<String, String> env, Path file, String... flags) {
    List<String> args = new ArrayList<>(List.of(flags));
    if (file != null) {
      args.add("--config=" + file);
    }
    return ThinkProxyServer.configure(env, args.toArray(String[]::new));
  }

  @Test
  void yamlAndPropertiesFilesGiveTheSameSettings() throws IOException {
    Path yaml = write("c.yaml", "port: 9000\n"
        + "idle-timeout: 5m\n"
        + "think-mode: strip\n"
        + "allow-private-networks: true\n"
        + "allow-host:\n  - a.example\n  - \"*.b.example\"\n"
        + "proxy-key-file: /etc/thinkproxy/keys\n");
    Path properties = write("c.properties", "port=9000\n"
        + "idle-timeout=5m\n"
        + "think-mode=strip\n"
        + "allow-private-networks=true\n"
        + "allow-host=a.example,*.b.example\n"
        + "proxy-key-file=/etc/thinkproxy/keys\n");

    for (Path file : List.of(yaml, properties)) {
      ThinkProxyServer server = configure(Map.of(), file);

      assertThat(server.port).as("%s", file).isEqualTo(9000);
      assertThat(server.idleTimeout).as("%s", file).isEqualTo("5m");
      assertThat(server.thinkMode).as("%s", file).isEqualTo("strip");
      assertThat(server.allowPrivateNetworks).as("%s", file).isTrue();
      assertThat(server.allowHosts).as("%s", file).containsExactly("a.example", "*.b.example");
      assertThat(server.proxyKeyFile).as("%s", file).isEqualTo("/etc/thinkproxy/keys");
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"allow-host: [a.example, b.example]", "allow-host: a.example,b.example",
      "allow-host:\n  - a.example,b.example"})
  void aYamlListAndACommaSeparatedStringGiveTheSameValues(String yaml) throws IOException {
    ThinkProxyServer server = configure(Map.of(), write("c.yaml", yaml + "\n"));

    assertThat(server.allowHosts).containsExactly("a.example", "b.example");
  }

  @Test
  void providersCanBeAMapInYamlAndAListInProperties() throws IOException {
    Path yaml = write("p.yaml", "aliases-only: true\nno-builtin-providers: true\n"
        + "provider:\n  local: \"http://10.0.0.5:8000/v1\"\n  ds: https://api.deepseek.com/v1\n");
    Path properties = write("p.properties", "aliases-only=true\nno-builtin-providers=true\n"
        + "provider=local=http://10.0.0.5:8000/v1,ds=https://api.deepseek.com/v1\n");

    for (Path file : List.of(yaml, properties)) {
      ThinkProxyServer server = configure(Map.of(), file);

      assertThat(server.providers).as("%s", file)
          .containsExactlyInAnyOrder("local=http://10.0.0.5:8000/v1", "ds=https://api.deepseek.com/v1");
      assertThat(server.aliasesOnly).as("%s", file).isTrue();
      assertThat(server.noBuiltinProviders).as("%s", file).isTrue();
    }
  }

  @Test
  void theFileIsTheOneTheFlagNamesOrElseTheOneTheEnvironmentNames() throws IOException {
    Path fromEnv = write("env.yml", "think-mode: wrap\n");
    Path fromFlag = write("flag.yaml", "think-mode: strip\n");
    Map<String, String> env = Map.of("THINKPROXY_CONFIG", fromEnv.toString());

    assertThat(configure(env, null).thinkMode).isEqualTo("wrap");
    assertThat(configure(env, fromFlag).thinkMode).isEqualTo("strip");
  }

  // ---- precedence: flag > environment > file > default, for each kind of option --------------------------

  @Test
  void aValueOptionTakesTheFlagThenTheEnvironmentThenTheFileThenTheDefault() throws IOException {
    Path file = write("c.yaml", "idle-timeout: 1m\nshutdown-grace: 5s\n");
    Map<String, String> env = Map.of("THINKPROXY_IDLE_TIMEOUT", "2m", "THINKPROXY_SHUTDOWN_GRACE", "6s");

    assertThat(configure(Map.of(), null).shutdownGrace).isEqualTo("30s");
    assertThat(configure(Map.of(), file).shutdownGrace).isEqualTo("5s");
    assertThat(configure(Map.of(), file).idleTimeout).isEqualTo("1m");
    assertThat(configure(env, file).shutdownGrace).isEqualTo("6s");
    assertThat(configure(env, file).idleTimeout).isEqualTo("2m");
    assertThat(configure(env, file, "--idle-timeout", "3m").idleTimeout).isEqualTo("3m");
  }

  @Test
  void aBooleanFlagTakesTheFlagThenTheEnvironmentThenTheFileThenTheDefault() throws IOException {
    Path on = write("on.yaml", "allow-private-networks: true\n");
    Path off = write("off.properties", "allow-private-networks=false\n");
    Map<String, String> envOff = Map.of("THINKPROXY_ALLOW_PRIVATE_NETWORKS", "false");

    assertThat(configure(Map.of(), null).allowPrivateNetworks).isFalse();
    assertThat(configure(Map.of(), on).allowPrivateNetworks).isTrue();
    assertThat(configure(Map.of(), off).allowPrivateNetworks).isFalse();
    assertThat(configure(envOff, on).allowPrivateNetworks).isFalse();
    assertThat(configure(envOff, on, "--allow-private-networks").allowPrivateNetworks).isTrue();
  }

  @Test
  void aRepeatableOptionTakesTheFlagsThenTheEnvironmentThenTheFileWithoutMixingThem() throws IOException {
    Path file = write("c.yaml", "allow-host: [file-a.example, file-b.example]\n");
    Map<String, String> env = Map.of("THINKPROXY_ALLOW_HOST", "env-a.example,env-b.example");

    assertThat(configure(Map.of(), null).allowHosts).isNull();
    assertThat(configure(Map.of(), file).allowHosts).containsExactly("file-a.example", "file-b.example");
    assertThat(configure(env, file).allowHosts).containsExactly("env-a.example", "env-b.example");
    assertThat(configure(env, file, "--allow-host", "flag-a.example", "--allow-host", "flag-b.example").allowHosts)
        .containsExactly("flag-a.example", "flag-b.example");
  }

  // ---- refusals -----------------------------------------------------------------------------------------

  @ParameterizedTest
  @ValueSource(strings = {"config", "help", "version"})
  void theOptionsThatAreNotSettingsAreNotKeys(String key) throws IOException {
    Path file = write("c.yaml", key + ": true\n");

    assertThatThrownBy(() -> configure(Map.of(), file))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("config file " + file + ": unknown key '" + key + "'");
  }

  @Test
  void aTypoInAKeyIsRefusedWithTheKeyMeant() throws IOException {
    Path file = write("c.yaml", "alow-host: a.example\n");

    assertThatThrownBy(() -> configure(Map.of(), file))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("config file " + file + ": unknown key 'alow-host' (did you mean 'allow-host'?)");
  }

  /** Picocli asks for no default when every option is on the command line; the file is checked all the same. */
  @Test
  void aBrokenFileIsRefusedEvenWhenNoOptionAskedForIt() throws IOException {
    Path file = write("c.yaml", "alow-host: a.example\n");
    ConfiguredDefaults defaults = new ConfiguredDefaults(new CommandLine(new ThinkProxyServer()).getCommandSpec(),
        Map.of("THINKPROXY_CONFIG", file.toString()));

    assertThatThrownBy(defaults::requireValidFile).hasMessageContaining("unknown key 'alow-host'");
  }

  @Test
  void aMissingFileIsRefused() {
    Path file = dir.resolve("absent.yaml");

    assertThatThrownBy(() -> configure(Map.of("THINKPROXY_CONFIG", file.toString()), null))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("config file " + file + ": no such file");
  }

  /** Values picocli converts (typed options) and values the proxy's settings check, both from the file. */
  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "port: abc|port: Invalid value for option '--port': 'abc' is not an int",
      "allow-private-networks: yes|allow-private-networks: Invalid value for option '--allow-private-networks': "
          + "'yes' is not a boolean",
      "idle-timeout: soon|idle-timeout: idle-timeout must be a duration such as 300s, 5m or 500ms: soon",
      "think-mode: sideways|think-mode: invalid think setting: think mode must be one of split, wrap, strip, off: "
          + "sideways",
      "'allow-host: [a.example, \"not a host\"]'|allow-host: not a host pattern (host, host:port, *.domain, IP): "
          + "not a host"})
  void aBadValueInTheFileIsRefusedNamingTheFileAndTheKey(String yaml, String problem) throws IOException {
    Path file = write("c.yaml", yaml + "\n");

    assertThatThrownBy(() -> ThinkProxyServer.start(Map.of(), "--config", file.toString()).close())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("config file " + file + ": " + problem);
  }

  @Test
  void aBadValueFromTheEnvironmentIsNotBlamedOnTheFile() throws IOException {
    Path file = write("c.yaml", "think-mode: strip\n");

    assertThatThrownBy(() -> ThinkProxyServer.start(Map.of("THINKPROXY_IDLE_TIMEOUT", "soon"), "--config",
        file.toString()).close())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("idle-timeout must be a duration such as 300s, 5m or 500ms: soon");
  }

  // ---- values mean what they say ------------------------------------------------------------------------

  @Test
  void dollarSignsInTheFileAndTheEnvironmentAreKeptAsWritten() throws IOException {
    Path file = write("c.yaml", "proxy-key-header: X-Key-$${HOME}\nproxy-key: [\"a$$b\", \"${sys:user.home}\"]\n");

    ThinkProxyServer fromFile = configure(Map.of(), file);
    ThinkProxyServer fromEnv = configure(Map.of("THINKPROXY_PROXY_KEY", "c$$d,${sys:user.home}"), null);

    assertThat(fromFile.proxyKeyHeader).isEqualTo("X-Key-$${HOME}");
    assertThat(fromFile.proxyKeys).containsExactly("a$$b", "${sys:user.home}");
    assertThat(fromEnv.proxyKeys).containsExactly("c$$d", "${sys:user.home}");
  }

  // ---- every option is a key, now and as options are added ----------------------------------------------

  @Test
  void everyInitParamIsAFlagOfTheSameName() {
    CommandSpec spec = new CommandLine(new ThinkProxyServer()).getCommandSpec();

    for (String name : InitParams.NAMES) {
      assertThat(spec.findOption("--" + name)).as("--%s", name).isNotNull();
    }
  }

  @Test
  void everyOptionOfTheServerIsAKeyOfTheFile() throws IOException {
    CommandSpec spec = new CommandLine(new ThinkProxyServer()).getCommandSpec();
    List<OptionSpec> settings = new ArrayList<>();
    StringBuilder yaml = new StringBuilder();
    for (OptionSpec option : spec.options()) {
      if (!option.longestName().equals("--config") && !option.usageHelp() && !option.versionHelp()) {
        settings.add(option);
        yaml.append(option.longestName().substring(2)).append(": value-of").append(option.longestName()).append('\n');
      }
    }
    ConfiguredDefaults defaults =
        new ConfiguredDefaults(spec, Map.of("THINKPROXY_CONFIG", write("all.yaml", yaml.toString()).toString()));

    defaults.requireValidFile();
    for (OptionSpec option : settings) {
      assertThat(defaults.defaultValue(option)).as(option.longestName()).isEqualTo("value-of" + option.longestName());
    }
  }

  /** Environment variables and config-file lists give a repeatable option one comma-separated string. */
  @Test
  void everyRepeatableOptionSplitsItsValueOnCommas() {
    for (OptionSpec option : new CommandLine(new ThinkProxyServer()).getCommandSpec().options()) {
      if (option.isMultiValue()) {
        assertThat("a,b".split(option.splitRegex())).as("%s splits on commas", option.longestName()).hasSize(2);
      }
    }
  }

  @Test
  void helpNamesTheConfigFileAndThePrecedence() {
    String help = new CommandLine(new ThinkProxyServer()).getUsageMessage().replaceAll("\\s+", " ");

    assertThat(help).contains("--config=FILE")
        .contains("Flags beat THINKPROXY_* variables, which beat this file, which beats the defaults.");
  }
}
