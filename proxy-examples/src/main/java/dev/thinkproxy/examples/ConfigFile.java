package dev.thinkproxy.examples;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.exc.StreamReadException;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;

/**
 * The settings of a configuration file for the standalone server: YAML ({@code .yaml}, {@code .yml}) or Java
 * properties ({@code .properties}), keys named like the flags without {@code --}. A key takes a single value, or,
 * for a repeatable option, a list (YAML), a comma-separated string, or a YAML map whose entries become
 * {@code KEY=VALUE} values. Every problem is refused when the file is read, with a message naming the file.
 */
final class ConfigFile {
  // The builder leaves EMPTY_STRING_AS_NULL off (new YAMLFactory() has it on); without it "port:" reads as "".
  private static final YAMLFactory YAML = YAMLFactory.builder()
      .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
      .enable(YAMLParser.Feature.EMPTY_STRING_AS_NULL)
      .build();

  private final Path path;
  private final Map<String, List<String>> values;

  private ConfigFile(Path path, Map<String, List<String>> values) {
    this.path = path;
    this.values = values;
  }

  /**
   * Reads and checks a file.
   *
   * @param keys every key the file may set
   * @param repeatableKeys the keys that take more than one value
   * @throws IllegalArgumentException naming the file, and the key where there is one, when the file cannot be read
   *     or holds something that is not a setting
   */
  static ConfigFile read(Path path, Set<String> keys, Set<String> repeatableKeys) {
    Map<String, Object> settings = parse(path);
    Map<String, List<String>> values = new LinkedHashMap<>();
    List<String> problems = new ArrayList<>();
    settings.forEach((key, value) -> {
      if (!keys.contains(key)) {
        problems.add(unknownKey(key, keys));
      } else {
        String problem = shapeProblem(key, value, repeatableKeys.contains(key));
        if (problem != null) {
          problems.add(problem);
        } else {
          values.put(key, optionValues(value));
        }
      }
    });
    if (!problems.isEmpty()) {
      throw refused(path, String.join("; ", problems));
    }
    return new ConfigFile(path, Map.copyOf(values));
  }

  /** The file as it was named. */
  Path path() {
    return path;
  }

  /** The option values the file gives the key, or null when it does not set it. */
  List<String> values(String key) {
    return values.get(key);
  }

  /** The message for a problem with the file. */
  static IllegalArgumentException refused(Path path, String problem) {
    return new IllegalArgumentException("config file " + path + ": " + problem);
  }

  private static Map<String, Object> parse(Path path) {
    String name = path.getFileName() == null ? "" : path.getFileName().toString().toLowerCase(Locale.ROOT);
    boolean yaml = name.endsWith(".yaml") || name.endsWith(".yml");
    if (!yaml && !name.endsWith(".properties")) {
      throw refused(path, "unknown file type; the name must end in .yaml, .yml or .properties");
    }
    try (Reader in = Files.newBufferedReader(path, StandardCharsets.UTF_8)) {
      return yaml ? parseYaml(path, in) : parseProperties(path, in);
    } catch (NoSuchFileException e) {
      throw refused(path, "no such file");
    } catch (StreamReadException e) {
      throw refused(path, "YAML syntax error at line " + e.getLocation().getLineNr() + ", column "
          + e.getLocation().getColumnNr() + ": " + e.getOriginalMessage().lines().findFirst().orElse(""));
    } catch (IOException e) {
      throw refused(path, "cannot be read: " + e.getMessage());
    }
  }

  private static Map<String, Object> parseYaml(Path path, Reader in) throws IOException {
    try (JsonParser parser = YAML.createParser(in)) {
      if (parser.nextToken() == null) {
        return Map.of();
      }
      Object document = readYamlValue(parser);
      if (parser.nextToken() != null) {
        throw refused(path, "holds more than one YAML document");
      }
      if (document == null) {
        return Map.of();
      }
      if (!(document instanceof Map)) {
        throw refused(path, "must be a map of settings (key: value)");
      }
      @SuppressWarnings("unchecked")
      Map<String, Object> settings = (Map<String, Object>) document;
      return settings;
    }
  }

  /**
   * The value at the parser's current token: a String, a List, a Map or null. Scalars keep the text as written, so
   * that {@code think-mode: off} stays "off" (YAML 1.1 would read a boolean) and {@code proxy-key: 0123} keeps its
   * zero.
   */
  private static Object readYamlValue(JsonParser parser) throws IOException {
    switch (parser.currentToken()) {
      case START_ARRAY:
        List<Object> list = new ArrayList<>();
        while (parser.nextToken() != JsonToken.END_ARRAY) {
          list.add(readYamlValue(parser));
        }
        return list;
      case START_OBJECT:
        Map<String, Object> map = new LinkedHashMap<>();
        while (parser.nextToken() == JsonToken.FIELD_NAME) {
          String key = parser.currentName();
          parser.nextToken();
          map.put(key, readYamlValue(parser));
        }
        return map;
      case VALUE_NULL:
        return null;
      default:
        return parser.getText();
    }
  }

  private static Map<String, Object> parseProperties(Path path, Reader in) throws IOException {
    Properties properties = new Properties();
    try {
      properties.load(in);
    } catch (IllegalArgumentException e) {
      throw refused(path, "is not a properties file: " + e.getMessage());
    }
    Map<String, Object> settings = new TreeMap<>();
    properties.stringPropertyNames().forEach(key -> settings.put(key, properties.getProperty(key)));
    return settings;
  }

  /** Why the value does not fit the key, or null when it does. */
  private static String shapeProblem(String key, Object value, boolean repeatable) {
    if (value == null) {
      return key + " has no value";
    }
    if (value instanceof String) {
      return null;
    }
    if (!repeatable) {
      return key + " takes a single value, not a " + (value instanceof List ? "list" : "map");
    }
    Iterable<?> items = value instanceof List ? (List<?>) value : ((Map<?, ?>) value).values();
    for (Object item : items) {
      if (!(item instanceof String)) {
        return key + " takes a list or a map of single values, not " + (item == null ? "an empty entry" : "nested ones");
      }
    }
    return null;
  }

  /** A checked value as option values: a map's entries become {@code KEY=VALUE}. */
  private static List<String> optionValues(Object value) {
    if (value instanceof String) {
      return List.of((String) value);
    }
    List<String> out = new ArrayList<>();
    if (value instanceof List) {
      ((List<?>) value).forEach(item -> out.add((String) item));
    } else {
      ((Map<?, ?>) value).forEach((name, item) -> out.add(name + "=" + item));
    }
    return List.copyOf(out);
  }

  private static String unknownKey(String key, Set<String> keys) {
    String closest = closestKey(key, keys);
    return "unknown key '" + key + "'" + (closest == null ? "" : " (did you mean '" + closest + "'?)");
  }

  /**
   * The valid key the user most likely meant: the same name in another spelling ({@code ALLOW_HOST},
   * {@code --allow-host}), or the one nearest by edit distance when it is near and there is no tie.
   */
  static String closestKey(String key, Set<String> keys) {
    String normalised = key.strip().replaceFirst("^-+", "").replace('_', '-').toLowerCase(Locale.ROOT);
    if (keys.contains(normalised)) {
      return normalised;
    }
    String best = null;
    int bestDistance = Integer.MAX_VALUE;
    boolean tie = false;
    for (String candidate : keys) {
      int d = editDistance(normalised, candidate);
      if (d < bestDistance) {
        best = candidate;
        bestDistance = d;
        tie = false;
      } else if (d == bestDistance) {
        tie = true;
      }
    }
    return bestDistance <= Math.min(2, normalised.length() / 3) && !tie ? best : null;
  }

  private static int editDistance(String a, String b) {
    int[] previous = new int[b.length() + 1];
    int[] current = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      previous[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      current[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int substitution = previous[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
        current[j] = Math.min(substitution, Math.min(previous[j], current[j - 1]) + 1);
      }
      int[] swap = previous;
      previous = current;
      current = swap;
    }
    return previous[b.length()];
  }
}
