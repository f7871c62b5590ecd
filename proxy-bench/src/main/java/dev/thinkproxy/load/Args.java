package dev.thinkproxy.load;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * Command-line options of the load tools: {@code --name value} or {@code --name=value}, flags without a value,
 * and repeatable options ({@link #all}). An unknown option is an {@link IllegalArgumentException}.
 */
final class Args {
  private final Map<String, List<String>> values = new LinkedHashMap<>();

  private Args() {}

  /**
   * Parses a runner's command line and builds the runner from it: on a bad argument (from the parse or from
   * {@code build}) prints the error and {@code usage} and exits with 2; with {@code --help} prints {@code usage}
   * and returns null.
   */
  static <T> T parseOrExit(String[] argv, Set<String> flags, Set<String> options, String usage,
      Function<Args, T> build) {
    try {
      Args a = parse(argv, flags, options);
      if (a.help()) {
        System.out.println(usage);
        return null;
      }
      return build.apply(a);
    } catch (IllegalArgumentException e) {
      System.err.println(e.getMessage() + "\n" + usage);
      System.exit(2);
      return null;
    }
  }

  static Args parse(String[] argv, Set<String> flags, Set<String> options) {
    Args a = new Args();
    for (int i = 0; i < argv.length; i++) {
      String arg = argv[i];
      int eq = arg.indexOf('=');
      String name = eq > 0 ? arg.substring(0, eq) : arg;
      if (name.equals("--help") || name.equals("-h")) {
        a.values.computeIfAbsent("--help", k -> new ArrayList<>()).add("true");
      } else if (flags.contains(name)) {
        a.values.computeIfAbsent(name, k -> new ArrayList<>()).add(eq > 0 ? arg.substring(eq + 1) : "true");
      } else if (options.contains(name)) {
        String value;
        if (eq > 0) {
          value = arg.substring(eq + 1);
        } else if (i + 1 < argv.length) {
          value = argv[++i];
        } else {
          throw new IllegalArgumentException(name + " needs a value");
        }
        a.values.computeIfAbsent(name, k -> new ArrayList<>()).add(value);
      } else {
        throw new IllegalArgumentException("unknown option: " + arg);
      }
    }
    return a;
  }

  boolean help() {
    return values.containsKey("--help");
  }

  boolean flag(String name) {
    List<String> v = values.get(name);
    return v != null && Boolean.parseBoolean(v.get(v.size() - 1));
  }

  /** Every value of a repeatable option, in order. */
  List<String> all(String name) {
    return values.getOrDefault(name, List.of());
  }

  String string(String name, String fallback) {
    List<String> v = values.get(name);
    return v == null ? fallback : v.get(v.size() - 1);
  }

  int intValue(String name, int fallback) {
    String v = string(name, null);
    try {
      return v == null ? fallback : Integer.parseInt(v.replace("_", ""));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(name + " is not a whole number: " + v);
    }
  }

  double doubleValue(String name, double fallback) {
    String v = string(name, null);
    try {
      return v == null ? fallback : Double.parseDouble(v);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(name + " is not a number: " + v);
    }
  }

  Duration duration(String name, Duration fallback) {
    String v = string(name, null);
    return v == null ? fallback : parseDuration(name, v);
  }

  /** {@code 500ms}, {@code 30s}, {@code 10m}, {@code 1h}; a bare number is seconds. */
  static Duration parseDuration(String name, String text) {
    String t = text.strip().toLowerCase(Locale.ROOT);
    try {
      if (t.endsWith("ms")) {
        return Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2)));
      }
      char unit = t.charAt(t.length() - 1);
      if (Character.isDigit(unit)) {
        return Duration.ofSeconds(Long.parseLong(t));
      }
      long n = Long.parseLong(t.substring(0, t.length() - 1));
      return switch (unit) {
        case 's' -> Duration.ofSeconds(n);
        case 'm' -> Duration.ofMinutes(n);
        case 'h' -> Duration.ofHours(n);
        default -> throw new NumberFormatException(text);
      };
    } catch (NumberFormatException | StringIndexOutOfBoundsException e) {
      throw new IllegalArgumentException(name + " is not a duration (500ms, 30s, 10m): " + text);
    }
  }
}
