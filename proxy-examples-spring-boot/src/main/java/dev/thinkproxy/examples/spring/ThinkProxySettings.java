package dev.thinkproxy.examples.spring;

import dev.thinkproxy.ChatCompletionProxy;
import dev.thinkproxy.servlet.CorsPolicy;
import dev.thinkproxy.servlet.InitParams;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.springframework.boot.context.properties.bind.Bindable;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.ConfigurationPropertyName;
import org.springframework.boot.context.properties.source.ConfigurationPropertyName.Form;
import org.springframework.boot.context.properties.source.ConfigurationPropertySource;
import org.springframework.boot.context.properties.source.ConfigurationPropertySources;
import org.springframework.boot.context.properties.source.IterableConfigurationPropertySource;
import org.springframework.core.env.Environment;
import org.springframework.core.env.SystemEnvironmentPropertySource;

/**
 * The {@code thinkproxy.*} properties: every setting of {@link InitParams} under its own name
 * ({@code thinkproxy.think-mode}, {@code thinkproxy.allow-host}, …), with the values and the validation of the
 * standalone server's flags of the same names.
 *
 * <p>A setting comes from {@code application.yml}, a command-line argument ({@code --thinkproxy.think-mode=wrap})
 * or an environment variable ({@code THINKPROXY_THINK_MODE}, as for the standalone server), with Spring's usual
 * precedence. A repeatable setting ({@code allow-host}, {@code provider}, {@code proxy-key}, {@code cors-origin},
 * …) is a YAML list or a comma-separated value; a list given in two places is replaced, not merged, as everywhere
 * in Spring Boot. A {@code thinkproxy.*} name that is not a setting fails the start: a misspelt
 * {@code allow-host} must not leave the proxy open to every public host.
 *
 * <p>Each name is bound on its own with Spring's {@link Binder} rather than through a
 * {@code @ConfigurationProperties} class: that would need a field per setting, or a map under the prefix, and map
 * keys get no relaxed binding: {@code THINKPROXY_THINK_MODE} would arrive as the key {@code think.mode},
 * {@code thinkproxy.thinkMode} as {@code thinkMode}, and in a {@code Map<String, String>} a YAML list as the keys
 * {@code allow-host.0}, {@code allow-host.1}.
 *
 * <p>Immutable and thread-safe.
 */
public final class ThinkProxySettings {
  private static final String PREFIX = "thinkproxy";

  private final Map<String, String> values;

  private ThinkProxySettings(Map<String, String> values) {
    this.values = Map.copyOf(values);
  }

  /**
   * The settings the environment holds.
   *
   * @throws IllegalArgumentException naming a {@code thinkproxy.*} property that is not a setting
   */
  public static ThinkProxySettings bind(Environment environment) {
    rejectUnknownNames(environment);
    Binder binder = Binder.get(environment);
    Map<String, String> values = new LinkedHashMap<>();
    for (String name : InitParams.NAMES) {
      binder.bind(PREFIX + "." + name, Bindable.listOf(String.class))
          .ifBound(list -> values.put(name, String.join(",", list)));
    }
    return new ThinkProxySettings(values);
  }

  /** The value of the setting {@code name} (an {@link InitParams} name), lists joined by commas, or null if unset. */
  public String get(String name) {
    return values.get(name);
  }

  /**
   * A proxy builder configured by these settings, for the caller to add to (listeners) and build.
   *
   * @throws IllegalArgumentException naming the setting whose value is invalid
   */
  public ChatCompletionProxy.Builder proxyBuilder() {
    return InitParams.toBuilder(this::get);
  }

  /**
   * The CORS policy these settings configure.
   *
   * @throws IllegalArgumentException naming the setting whose value is invalid
   */
  public CorsPolicy corsPolicy() {
    return InitParams.corsPolicy(this::get);
  }

  /**
   * Environment variables are left out: with no dashes in their names {@code THINKPROXY_THINK_MODE} reads as
   * {@code thinkproxy.think.mode}, and variables meant for the standalone server ({@code THINKPROXY_PORT}) may be
   * set too. The names they carry for this application are bound all the same.
   */
  private static void rejectUnknownNames(Environment environment) {
    ConfigurationPropertyName root = ConfigurationPropertyName.of(PREFIX);
    Set<String> known = InitParams.NAMES.stream()
        .map(name -> ConfigurationPropertyName.of(name).getElement(0, Form.UNIFORM))
        .collect(Collectors.toSet());
    for (ConfigurationPropertySource source : ConfigurationPropertySources.get(environment)) {
      if (source instanceof IterableConfigurationPropertySource iterable
          && !(source.getUnderlyingSource() instanceof SystemEnvironmentPropertySource)) {
        iterable.filter(root::isAncestorOf).stream()
            .filter(name -> !known.contains(name.getElement(1, Form.UNIFORM)))
            .findFirst()
            .ifPresent(name -> {
              throw new IllegalArgumentException(name + " is not a thinkproxy setting; the settings are "
                  + PREFIX + "." + String.join(", " + PREFIX + ".", InitParams.NAMES));
            });
      }
    }
  }
}
