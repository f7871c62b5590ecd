package dev.thinkproxy.load;

import java.io.IOException;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.Proxy;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** A process of a run (the mock or the proxy), its output in a log file, stopped when the run ends. */
final class ChildProcess implements AutoCloseable {
  private final String name;
  private final List<String> command;
  private final Path log;
  private final Process process;

  private ChildProcess(String name, List<String> command, Path log, Process process) {
    this.name = name;
    this.command = command;
    this.log = log;
    this.process = process;
  }

  /** Starts {@code command} under the raised open-file limit, with stdout and stderr to {@code log}. */
  static ChildProcess start(String name, List<String> command, Path log) throws IOException, InterruptedException {
    List<String> full = new ArrayList<>(FileLimits.childPrefix());
    full.addAll(command);
    Files.createDirectories(log.getParent());
    Process p = new ProcessBuilder(full).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    ChildProcess child = new ChildProcess(name, full, log, p);
    Runtime.getRuntime().addShutdownHook(new Thread(child::close, "stop-" + name));
    return child;
  }

  /**
   * The pid of the JVM itself: prlimit execs the command in place, so this is the started process's pid
   * either way.
   */
  long pid() {
    return process.pid();
  }

  List<String> command() {
    return command;
  }

  String name() {
    return name;
  }

  boolean isAlive() {
    return process.isAlive();
  }

  Path log() {
    return log;
  }

  /** Polls {@code url} until it answers 200; fails with the end of the log if the process exits or time runs out. */
  void awaitReady(URI url, Duration timeout) throws IOException, InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new IOException(name + " exited with " + process.exitValue() + "; end of " + log + ":\n" + logTail(30));
      }
      try {
        if (get(url).status == 200) {
          return;
        }
      } catch (IOException notYet) {
        // still starting
      }
      Thread.sleep(100);
    }
    throw new IOException(name + " not ready at " + url + " after " + timeout.toSeconds() + " s; end of " + log
        + ":\n" + logTail(30));
  }

  String logTail(int lines) {
    try {
      List<String> all = Files.readAllLines(log, StandardCharsets.UTF_8);
      return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    } catch (IOException e) {
      return "(log unreadable: " + e.getMessage() + ")";
    }
  }

  record Response(int status, String body) {}

  /** A plain GET on its own connection, for readiness and the mock's stats. */
  static Response get(URI url) throws IOException {
    HttpURLConnection c = (HttpURLConnection) url.toURL().openConnection(Proxy.NO_PROXY);
    c.setConnectTimeout(2000);
    c.setReadTimeout(10000);
    try {
      int status = c.getResponseCode();
      InputStream in = status < 400 ? c.getInputStream() : c.getErrorStream();
      byte[] body = in == null ? new byte[0] : in.readAllBytes();
      return new Response(status, new String(body, StandardCharsets.UTF_8));
    } finally {
      c.disconnect();
    }
  }

  @Override
  public void close() {
    if (!process.isAlive()) {
      return;
    }
    process.destroy();
    try {
      if (!process.waitFor(15, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      process.destroyForcibly();
    }
  }
}
