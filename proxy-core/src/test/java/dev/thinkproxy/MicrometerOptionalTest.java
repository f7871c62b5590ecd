package dev.thinkproxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.File;
import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Micrometer is an optional dependency: with it missing from the class path, every proxy-core class except
 * {@link MicrometerProxyListener} loads, links and initialises, and a proxy forwards a request. The test runs
 * proxy-core in a class loader built from this test's class path without the Micrometer jars, whose parent is the
 * platform loader, so nothing leaks in from the test's own loader.
 */
class MicrometerOptionalTest {
  private URLClassLoader withoutMicrometer;

  @BeforeEach
  void isolate() throws IOException {
    List<URL> urls = new ArrayList<>();
    for (String entry : testClassPath()) {
      if (!new File(entry).getName().startsWith("micrometer-")) {
        urls.add(new File(entry).toURI().toURL());
      }
    }
    withoutMicrometer = new URLClassLoader(urls.toArray(URL[]::new), ClassLoader.getPlatformClassLoader());
  }

  @AfterEach
  void close() throws IOException {
    withoutMicrometer.close();
  }

  @Test
  void theIsolatedLoaderReallyLacksMicrometer() {
    assertThat(MicrometerProxyListener.class.getClassLoader()).isNotSameAs(withoutMicrometer);
    assertThatThrownBy(() -> withoutMicrometer.loadClass("io.micrometer.core.instrument.MeterRegistry"))
        .isInstanceOf(ClassNotFoundException.class);
    assertThatThrownBy(() -> Class.forName(MicrometerProxyListener.class.getName(), true, withoutMicrometer)
            .getDeclaredConstructors())
        .as("the one class that needs Micrometer, checked the way every other class is")
        .isInstanceOf(NoClassDefFoundError.class);
  }

  @Test
  void everyOtherCoreClassLoadsWithoutMicrometer() throws Exception {
    List<String> names = coreClassNames();
    assertThat(names).contains(ChatCompletionProxy.class.getName(), AccessLogListener.class.getName());

    for (String name : names) {
      if (name.startsWith(MicrometerProxyListener.class.getName())) {
        continue;
      }
      Class<?> c = Class.forName(name, true, withoutMicrometer);
      // Resolves every type in the signatures, which initialising alone does not.
      c.getDeclaredMethods();
      c.getDeclaredFields();
      c.getDeclaredConstructors();
      assertThat(c.getClassLoader()).as(name).isSameAs(withoutMicrometer);
    }
  }

  @Test
  @SuppressWarnings("unchecked")
  void aProxyWithAnAccessLogForwardsWithoutMicrometer() throws Exception {
    try (MockWebServer upstream = new MockWebServer()) {
      upstream.enqueue(new MockResponse.Builder()
          .setHeader("Content-Type", "application/json")
          .body("{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
              + "\"<think>hm</think>ok\"}}]}")
          .build());
      upstream.start();
      Function<String, String> forward = (Function<String, String>) withoutMicrometer
          .loadClass(ForwardWithoutMicrometer.class.getName()).getConstructor().newInstance();

      String answer = forward.apply("/http://127.0.0.1:" + upstream.getPort() + "/v1/chat/completions");

      assertThat(forward.getClass().getClassLoader()).isSameAs(withoutMicrometer);
      assertThat(answer).startsWith("200 ").contains("\"reasoning_content\":\"hm\"").contains("\"content\":\"ok\"");
    }
  }

  /** The class path surefire gives the tests (its own {@code java.class.path} may be a manifest-only jar). */
  private static List<String> testClassPath() {
    String path = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    List<String> entries = List.of(path.split(File.pathSeparator));
    assertThat(entries).as("the test class path names the Micrometer jar")
        .anyMatch(e -> new File(e).getName().startsWith("micrometer-core-"));
    return entries;
  }

  /** Every class compiled from proxy-core's main sources. */
  private static List<String> coreClassNames() throws IOException {
    Path classes = Path.of(AccessLogListener.class.getProtectionDomain().getCodeSource().getLocation().getPath());
    try (Stream<Path> files = Files.walk(classes)) {
      return files.filter(f -> f.toString().endsWith(".class"))
          .map(f -> classes.relativize(f).toString().replace(File.separatorChar, '.').replaceAll("\\.class$", ""))
          .filter(n -> !n.endsWith("module-info") && !n.endsWith("package-info"))
          .sorted()
          .collect(Collectors.toList());
    }
  }
}
