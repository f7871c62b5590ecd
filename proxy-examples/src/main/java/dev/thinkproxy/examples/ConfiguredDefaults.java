package dev.thinkproxy.examples;

import dev.thinkproxy.servlet.InitParams;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParameterException;

/**
 * The value of every option that is not on the command line: the environment variable {@code THINKPROXY_<NAME>}
 * if set, else the config file's {@code NAME} key, else the option's own default. Picocli asks for a default only
 * for options the command line left out, so a flag beats all three.
 *
 * <p>The config file is the one {@code --config} names, or else {@code THINKPROXY_CONFIG}. Picocli reads the
 * command line before it asks for defaults, so the file is read on the first request. Its keys are the options of
 * the command, whatever they are, except {@code --config} itself and the help options.
 *
 * <p>One instance serves one parse of one command and remembers what the file supplied, so that a value refused
 * later can be traced to it.
 */
final class ConfiguredDefaults implements CommandLine.IDefaultValueProvider {
  /** The option that names the config file. */
  static final String CONFIG_OPTION = "--config";

  private final Map<String, String> env;
  private final OptionSpec configOption;
  private final Map<String, OptionSpec> optionsByKey = new LinkedHashMap<>();
  private final Map<String, String> suppliedByFile = new LinkedHashMap<>();
  private ConfigFile file;
  private IllegalArgumentException fileRefused;
  private boolean fileRead;

  /** Defaults for the options of {@code spec}, with {@code env} as the environment. */
  ConfiguredDefaults(CommandSpec spec, Map<String, String> env) {
    this.env = Map.copyOf(env);
    this.configOption = spec.findOption(CONFIG_OPTION);
    for (OptionSpec option : spec.options()) {
      if (option != configOption && !option.usageHelp() && !option.versionHelp()) {
        optionsByKey.put(key(option), option);
      }
    }
  }

  @Override
  public String defaultValue(ArgSpec arg) {
    if (!(arg instanceof OptionSpec)) {
      return null;
    }
    OptionSpec option = (OptionSpec) arg;
    String value = env.get(envName(option));
    if (value == null) {
      value = fileValue(option);
    }
    // Picocli expands ${...} and $$ in default values; a value from the environment or the file means what it
    // says, as a flag does.
    return value == null ? null : value.replace("$", "$$");
  }

  /**
   * Reads the config file if no option asked for it yet (every one was on the command line) and throws what was
   * wrong with it.
   *
   * @throws IllegalArgumentException naming the file when it cannot be read or holds something that is not a setting
   */
  void requireValidFile() {
    file();
    if (fileRefused != null) {
      throw fileRefused;
    }
  }

  /** A picocli failure's message naming the file and key when the value picocli refused came from the file. */
  Optional<String> fromFile(ParameterException e) {
    if (!(e.getArgSpec() instanceof OptionSpec)) {
      return Optional.empty();
    }
    String key = key((OptionSpec) e.getArgSpec());
    return suppliedByFile.containsKey(key) ? Optional.of(inFile(key, e.getMessage())) : Optional.empty();
  }

  /**
   * The failure of a setting, naming the file and key when a value the file supplied fails the same check alone;
   * otherwise the failure as it is.
   */
  IllegalArgumentException traceToFile(IllegalArgumentException failure) {
    for (Map.Entry<String, String> supplied : suppliedByFile.entrySet()) {
      String key = supplied.getKey();
      if (InitParams.NAMES.contains(key)) {
        try {
          InitParams.toBuilder(name -> name.equals(key) ? supplied.getValue() : null);
        } catch (IllegalArgumentException alone) {
          return new IllegalArgumentException(inFile(key, alone.getMessage()), failure);
        }
      }
    }
    return failure;
  }

  private String inFile(String key, String problem) {
    return ConfigFile.refused(file.path(), key + ": " + problem).getMessage();
  }

  private String fileValue(OptionSpec option) {
    ConfigFile settings = file();
    List<String> values = settings == null ? null : settings.values(key(option));
    if (values == null) {
      return null;
    }
    // Every repeatable option splits its value on commas, as it does for a flag or an environment variable.
    String value = String.join(",", values);
    suppliedByFile.put(key(option), value);
    return value;
  }

  /** The config file, or null when there is none or it was refused. */
  private ConfigFile file() {
    if (!fileRead) {
      fileRead = true;
      Object onCommandLine = configOption.getValue();
      String name = onCommandLine != null ? onCommandLine.toString() : env.get(envName(configOption));
      if (name != null) {
        try {
          file = ConfigFile.read(Path.of(name), optionsByKey.keySet(), repeatableKeys());
        } catch (IllegalArgumentException e) {
          // Reported after parsing: picocli would wrap it, and --help should work with a broken file.
          fileRefused = e;
        }
      }
    }
    return file;
  }

  private Set<String> repeatableKeys() {
    Set<String> keys = new HashSet<>();
    optionsByKey.forEach((key, option) -> {
      if (option.isMultiValue()) {
        keys.add(key);
      }
    });
    return keys;
  }

  private static String key(OptionSpec option) {
    return option.longestName().replaceFirst("^--?", "");
  }

  private static String envName(OptionSpec option) {
    return "THINKPROXY_" + key(option).replace('-', '_').toUpperCase(Locale.ROOT);
  }
}
