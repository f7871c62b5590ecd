package dev.thinkproxy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.stream.Stream;

/** Test helper: the captured provider responses in {@code shared/fixtures} beside the repository. */
final class Fixtures {
  private Fixtures() {}

  /** {@code ../../shared/fixtures} relative to the module directory, which is Surefire's working directory. */
  static Path dir() {
    Path dir = Paths.get(System.getProperty("user.dir")).resolve("../../shared/fixtures").normalize();
    if (!Files.isDirectory(dir)) {
      throw new AssertionError("fixture directory not found: " + dir + " (expected the shared/ folder, with "
          + "fixtures/*.sse and *.json, beside the repository checkout; tests run from the module directory "
          + System.getProperty("user.dir") + ")");
    }
    return dir;
  }

  static List<Path> withExtension(String ext) {
    try (Stream<Path> files = Files.list(dir())) {
      List<Path> out = files.filter(p -> p.getFileName().toString().endsWith(ext)).sorted().toList();
      if (out.isEmpty()) {
        throw new AssertionError("no *" + ext + " fixtures in " + dir());
      }
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static byte[] read(Path p) {
    try {
      return Files.readAllBytes(p);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static Path named(String name) {
    Path p = dir().resolve(name);
    if (!Files.isRegularFile(p)) {
      throw new AssertionError("fixture missing: " + p);
    }
    return p;
  }
}
