package dev.thinkproxy.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Reading a config file on its own, with a key set of its own (the server's keys are in ConfiguredDefaultsTest). */
class ConfigFileTest {
  private static final Set<String> KEYS =
      Set.of("port", "think-mode", "proxy-key", "allow-host", "allow-private-networks", "provider");
  private static final Set<String> REPEATABLE = Set.of("proxy-key", "allow-host", "provider");

  @TempDir
  Path dir;

  private Path write(String name, String content) throws IOException {
    return Files.writeString(dir.resolve(name), content);
  }

  private ConfigFile read(Path file) {
    return ConfigFile.read(file, KEYS, REPEATABLE);
  }

  static Stream<Arguments> valuesAsRead() {
    return Stream.of(
        Arguments.of("a map's entries become KEY=VALUE", "c.yaml",
            "provider:\n  local: \"http://10.0.0.5:8000/v1\"\n  chutes: https://llm.chutes.ai/v1\n",
            "provider", List.of("local=http://10.0.0.5:8000/v1", "chutes=https://llm.chutes.ai/v1")),
        Arguments.of("a flow map is the same as a block map", "c.yml",
            "provider: {local: \"http://10.0.0.5:8000/v1\"}\n",
            "provider", List.of("local=http://10.0.0.5:8000/v1")),
        Arguments.of("a list gives one value per item", "c.yaml",
            "allow-host: [a.example, \"b.example:8443\"]\n", "allow-host", List.of("a.example", "b.example:8443")),
        Arguments.of("a comma-separated string stays one value for the option to split", "c.yaml",
            "proxy-key: k1,k2\n", "proxy-key", List.of("k1,k2")),
        // YAML 1.1 reads these as false, a number and a boolean; a setting means what the user wrote.
        Arguments.of("off stays off", "c.yaml", "think-mode: off\n", "think-mode", List.of("off")),
        Arguments.of("a leading zero stays", "c.yaml", "proxy-key: 0123\n", "proxy-key", List.of("0123")),
        Arguments.of("a boolean keeps its spelling", "c.yaml", "allow-private-networks: True\n",
            "allow-private-networks", List.of("True")),
        Arguments.of("properties give strings as written", "c.properties",
            "# comment\nthink-mode = strip\nallow-host=a.example,b.example\n", "allow-host",
            List.of("a.example,b.example")),
        Arguments.of("properties take a colon too", "c.properties", "port: 9000\n", "port", List.of("9000")),
        Arguments.of("an empty file sets nothing", "c.yaml", "# nothing set yet\n", "port", null));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("valuesAsRead")
  void theFileGivesTheOptionValuesAsWritten(String what, String name, String content, String key,
      List<String> expected) throws IOException {
    assertThat(read(write(name, content)).values(key)).isEqualTo(expected);
  }

  static Stream<Arguments> refusals() {
    return Stream.of(
        Arguments.of("c.yaml", "alow-host: x", "unknown key 'alow-host' (did you mean 'allow-host'?)"),
        Arguments.of("c.yaml", "allow_host: x", "unknown key 'allow_host' (did you mean 'allow-host'?)"),
        Arguments.of("c.yaml", "ALLOW_PRIVATE_NETWORKS: x",
            "unknown key 'ALLOW_PRIVATE_NETWORKS' (did you mean 'allow-private-networks'?)"),
        Arguments.of("c.properties", "--port=1", "unknown key '--port' (did you mean 'port'?)"),
        Arguments.of("c.yaml", "thinkmode: x", "unknown key 'thinkmode' (did you mean 'think-mode'?)"),
        Arguments.of("c.properties", "colour=blue", "unknown key 'colour'"),
        Arguments.of("c.yaml", "prot: 1\nthink-mode: [split]",
            "unknown key 'prot'; think-mode takes a single value, not a list"),
        Arguments.of("c.yaml", "port: [1, 2]", "port takes a single value, not a list"),
        Arguments.of("c.yaml", "think-mode: {a: b}", "think-mode takes a single value, not a map"),
        Arguments.of("c.yaml", "allow-host: [a.example, [b.example]]",
            "allow-host takes a list or a map of single values, not nested ones"),
        Arguments.of("c.yaml", "provider: {local: {url: x}}",
            "provider takes a list or a map of single values, not nested ones"),
        Arguments.of("c.yaml", "allow-host: [a.example, ~]",
            "allow-host takes a list or a map of single values, not an empty entry"),
        Arguments.of("c.yaml", "port:", "port has no value"),
        Arguments.of("c.yaml", "- port: 8080", "must be a map of settings (key: value)"),
        Arguments.of("c.toml", "port = 8080", "unknown file type; the name must end in .yaml, .yml or .properties"));
  }

  @ParameterizedTest(name = "{2}")
  @MethodSource("refusals")
  void whatIsNotASettingIsRefusedNamingTheFileAndTheKey(String name, String content, String problem)
      throws IOException {
    Path file = write(name, content + "\n");

    assertThatThrownBy(() -> read(file))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("config file " + file + ": " + problem);
  }

  @ParameterizedTest
  @ValueSource(strings = {"port: 8080\nthink-mode: strip\n  allow-host: a.example\n",
      "port: 8080\nthink-mode: strip\nport: 9090\n"})
  void aYamlSyntaxErrorIsRefusedWithItsLine(String yaml) throws IOException {
    Path file = write("c.yaml", yaml);

    assertThatThrownBy(() -> read(file))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("config file " + file + ": YAML syntax error at line 3,")
        .hasMessageNotContaining("\n");
  }

  @Test
  void aMissingFileIsRefused() {
    Path file = dir.resolve("absent.yaml");

    assertThatThrownBy(() -> read(file))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("config file " + file + ": no such file");
  }

  @Test
  void theClosestKeyIsOnlySuggestedWhenItIsObvious() {
    Set<String> keys = Set.of("idle-timeout", "total-timeout", "connect-timeout");

    assertThat(ConfigFile.closestKey("idle-timout", keys)).isEqualTo("idle-timeout");
    assertThat(ConfigFile.closestKey("timeout", keys)).isNull();
    assertThat(ConfigFile.closestKey("x", keys)).isNull();
  }
}
