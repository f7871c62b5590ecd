package dev.thinkproxy.servlet;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.params.provider.Arguments.arguments;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.thinkproxy.ChatCompletionProxy;
import dev.thinkproxy.TargetPolicy;
import dev.thinkproxy.servlet.FaultUpstream.Chunked;
import dev.thinkproxy.servlet.FaultUpstream.Ending;
import dev.thinkproxy.servlet.FaultUpstream.Script;
import dev.thinkproxy.servlet.SseEvents.Event;
import dev.thinkproxy.servlet.StreamCheck.End;
import dev.thinkproxy.servlet.StreamCheck.Mode;
import jakarta.servlet.http.HttpServlet;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.security.CodeSource;
import java.time.Duration;
import java.util.AbstractMap.SimpleImmutableEntry;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Queue;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * What a client of the servlet sees when things go wrong on either side of the proxy, in a real container on
 * real sockets: an upstream that resets, closes half-way through a chunked body (even inside a chunk-size line
 * or a UTF-8 sequence), goes silent or answers late ({@link FaultUpstream}), and clients that leave or read
 * slowly ({@link SseClient}).
 *
 * <p>The contract under test:
 * <ol>
 *   <li>Every complete event before a fault reaches the client exactly once, then what the proxy held back, then
 *       the cut-off event as comment lines, then one error event, then a clean end ({@link StreamCheck}).</li>
 *   <li>Before the response headers: a reset or refused connection gives 502 JSON, no headers within the
 *       first-byte timeout 504 JSON. An upstream slower than a heartbeat interval to answer a streaming request
 *       gets the client's event stream started by the proxy; a timeout then arrives as one error event.</li>
 *   <li>Upstream silence is filled with {@code : keep-alive} heartbeats and a stream is not cut while they flow;
 *       a healthy stream longer than the idle timeout is never cut.</li>
 *   <li>A client that leaves makes the proxy cancel the upstream call within 1 s of noticing.</li>
 *   <li>A slow client holds the upstream back through TCP, then gets every byte in order.</li>
 *   <li>No exchange, thread or upstream connection outlives its test.</li>
 *   <li>A seeded random mix of all of this ({@code -Dfaults.seed=} replays a run).</li>
 * </ol>
 *
 * <p>Four proxies are mounted: {@code /fast} (idle timeout 1 s, so the first-byte timeout defaults to 1 s),
 * {@code /patient} (idle 10 s), {@code /total} (idle 10 s, total 1 s), each with 300 ms heartbeats, and
 * {@code /firstbyte} (idle 10 s, first byte 500 ms, heartbeats 2 s, so that its first-byte timeout comes before
 * the proxy would start a streaming client's event stream itself).
 *
 * <p>No test sleeps to synchronise: waits are on latches, on the upstream's records or on bytes arriving, with
 * generous timeouts that only run out when a test fails. Pauses only pace an upstream's or a client's own
 * behaviour.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class AbstractFaultInjectionIT {
  /** Generous bound for anything that should happen "soon"; only reached when the test is failing. */
  static final Duration WAIT = Duration.ofSeconds(20);
  static final Duration HEARTBEAT = Duration.ofMillis(300);
  /** Generous bound for a few heartbeats to arrive, well above their interval. */
  static final Duration HEARTBEAT_WAIT = Duration.ofSeconds(5);
  static final Duration SHORT_IDLE = Duration.ofSeconds(1);
  static final Duration LONG_IDLE = Duration.ofSeconds(10);
  static final Duration TOTAL = Duration.ofSeconds(1);
  static final Duration FIRST_BYTE = Duration.ofMillis(500);
  /** The contract: the upstream sees its connection closed within this long of the proxy noticing the client left. */
  static final Duration CANCEL_BOUND = Duration.ofSeconds(1);

  private static final ObjectMapper JSON = new ObjectMapper();

  /** Exceptions that escaped any thread while this class ran. */
  private final Queue<Map.Entry<Thread, Throwable>> uncaught = new ConcurrentLinkedQueue<>();
  private Thread.UncaughtExceptionHandler previousHandler;

  private final Map<String, ChatCompletionProxy> proxies = new LinkedHashMap<>();
  private final List<SseClient> clients = new CopyOnWriteArrayList<>();
  private final AtomicInteger ids = new AtomicInteger();
  private ServletContainer container;
  private FaultUpstream upstream;
  private int port;

  /** A new, unstarted container. */
  abstract ServletContainer newContainer();

  /** The proxy with the settings the contract names; built here so each setting is spelled out once. */
  private static ChatCompletionProxy proxy(Duration idle, Duration firstByte, Duration total) {
    return proxy(idle, firstByte, total, HEARTBEAT);
  }

  private static ChatCompletionProxy proxy(Duration idle, Duration firstByte, Duration total, Duration heartbeat) {
    ChatCompletionProxy.Builder builder = ChatCompletionProxy.builder()
        .targetPolicy(TargetPolicy.builder().allowPrivateNetworks(true).build())
        .heartbeatInterval(heartbeat)
        .idleTimeout(idle)
        .totalTimeout(total);
    if (firstByte != null) {
      builder.firstByteTimeout(firstByte);
    }
    return builder.build();
  }

  @BeforeAll
  void startContainerAndUpstream() throws Exception {
    previousHandler = Thread.getDefaultUncaughtExceptionHandler();
    Thread.setDefaultUncaughtExceptionHandler((thread, e) -> {
      uncaught.add(new SimpleImmutableEntry<>(thread, e));
      System.err.print("Exception in thread \"" + thread.getName() + "\" ");
      e.printStackTrace();
    });
    upstream = new FaultUpstream();
    proxies.put("/fast", proxy(SHORT_IDLE, null, Duration.ZERO));
    proxies.put("/patient", proxy(LONG_IDLE, null, Duration.ZERO));
    proxies.put("/total", proxy(LONG_IDLE, null, TOTAL));
    // Heartbeats slower than the first-byte timeout: the proxy does not start the client's stream before it.
    proxies.put("/firstbyte", proxy(LONG_IDLE, FIRST_BYTE, Duration.ZERO, FIRST_BYTE.multipliedBy(4)));
    Map<String, HttpServlet> servlets = new LinkedHashMap<>();
    proxies.forEach((mount, proxy) -> servlets.put(mount, new ChatCompletionProxyServlet(proxy)));
    container = newContainer();
    port = container.start(servlets);
  }

  /** Closing the proxies releases their pooled connections: then no upstream connection may be left open. */
  @AfterAll
  void stopAll() throws Exception {
    try {
      container.stop();
    } finally {
      proxies.values().forEach(ChatCompletionProxy::close);
      Thread.setDefaultUncaughtExceptionHandler(previousHandler);
    }
    List<String> open = upstream.awaitAllClosed(0, WAIT);
    upstream.close();
    assertThat(open).as("upstream connections still open after the proxies were closed").isEmpty();
  }

  /** Contract 6: nothing outlives a test. */
  @AfterEach
  void nothingIsLeftBehind() throws Exception {
    for (SseClient c : clients) {
      c.close();
    }
    clients.clear();
    for (Map.Entry<String, ChatCompletionProxy> e : proxies.entrySet()) {
      assertThat(e.getValue().awaitIdle(WAIT))
          .as("exchanges still active on %s: %d", e.getKey(), e.getValue().activeExchanges())
          .isTrue();
    }
    assertThat(awaitNoProxyThreads(WAIT)).as("threads still running proxy code").isEmpty();
    assertThat(upstream.awaitSettled(0, WAIT))
        .as("upstream connections neither closed nor idle after a complete response")
        .isEmpty();
    List<String> escaped = new ArrayList<>();
    uncaught.forEach(e -> escaped.add(e.getKey().getName() + ": " + e.getValue()));
    uncaught.clear();
    assertThat(escaped).as("exceptions that escaped a thread").isEmpty();
  }

  // -------------------------------------------------------------------------------------------------------------
  // 1. Every byte before a fault, exactly once

  /**
   * The stream every targeted test cuts: reasoning whose tags are split across events, a provider comment, an
   * answer with multi-byte characters, {@code [DONE]}.
   */
  static ChatStream referenceStream() {
    return ChatStream.builder()
        .role()
        .content("<th", null)
        .content("ink>Réason", null)
        .content("ing 😀 ste", null)
        .comment("PROCESSING")
        .content("p</th", null)
        .content("ink>\n\nAns", null)
        .content("wer ✓ é", null)
        .stop()
        .done()
        .build();
  }

  /** Where the reference stream is cut. */
  enum Cut {
    /** Before any event: the client gets only what the proxy says about the fault. */
    AT_START,
    /** Inside the first event. */
    IN_THE_FIRST_EVENT,
    /** After the event ending {@code p</th}: the proxy holds back a possible closing tag. */
    HOLDING_A_TAG_PREFIX,
    /** After the first piece of the answer. */
    IN_THE_ANSWER,
    /** In the middle of a data line. */
    MID_EVENT,
    /** After {@code data} of an event's first line, before its colon: a line that is only a field name. */
    IN_A_FIELD_NAME,
    /** After the first byte of the three of {@code ✓}. */
    MID_UTF8,
    /** After a complete data line whose event lacks its empty line. */
    BEFORE_THE_BLANK_LINE,
    /** Everything but {@code [DONE]}. */
    BEFORE_DONE;

    int in(ChatStream stream) {
      return switch (this) {
        case AT_START -> 0;
        case IN_THE_FIRST_EVENT -> indexOf(stream, "\"object\"");
        case HOLDING_A_TAG_PREFIX -> endOfEventWith(stream, "p</th");
        case IN_THE_ANSWER -> endOfEventWith(stream, "ink>\\n\\nAns");
        case MID_EVENT -> indexOf(stream, "wer ") + 2;
        case IN_A_FIELD_NAME -> endOfEventWith(stream, "ink>\\n\\nAns") + "data".length();
        case MID_UTF8 -> indexOf(stream, "✓") + 1;
        case BEFORE_THE_BLANK_LINE -> endOfEventWith(stream, "wer ") - 1;
        case BEFORE_DONE -> indexOf(stream, "data: [DONE]");
      };
    }
  }

  /** How the upstream fails after the cut, and which proxy sees it. */
  enum Fault {
    RESET("/patient", Cut.HOLDING_A_TAG_PREFIX, Cut.MID_EVENT, Cut.MID_UTF8, Cut.IN_A_FIELD_NAME),
    FIN_AFTER_A_CHUNK("/patient", Cut.values()),
    FIN_IN_A_CHUNK_SIZE_LINE("/patient", Cut.values()),
    FIN_IN_CHUNK_DATA("/patient", Cut.values()),
    IDLE_TIMEOUT("/fast", Cut.AT_START, Cut.HOLDING_A_TAG_PREFIX, Cut.MID_EVENT),
    TOTAL_TIMEOUT("/total", Cut.MID_UTF8, Cut.BEFORE_THE_BLANK_LINE);

    final String mount;
    final List<Cut> cuts;

    Fault(String mount, Cut... cuts) {
      this.mount = mount;
      this.cuts = List.of(cuts);
    }

    /** The chunked body on the wire up to payload byte {@code cut}, ending the way this fault needs. */
    byte[] wire(byte[] payload, int cut, Random random) {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      if (this == FIN_IN_CHUNK_DATA) {
        // A chunk that declares more than is sent: the connection ends inside its data.
        int start = Math.max(0, cut - 7);
        out.writeBytes(ChunkedWire.of(payload, start, random, 40).bytes());
        out.writeBytes((Integer.toHexString(cut - start + 9) + "\r\n").getBytes(ISO_8859_1));
        out.write(payload, start, cut - start);
        return out.toByteArray();
      }
      out.writeBytes(ChunkedWire.of(payload, cut, random, 40).bytes());
      if (this == FIN_IN_A_CHUNK_SIZE_LINE) {
        // The first digit of the next chunk's size (or of the terminating chunk), and no more.
        out.write(cut < payload.length ? '1' : '0');
      }
      return out.toByteArray();
    }
  }

  static Stream<Arguments> faults() {
    List<Arguments> out = new ArrayList<>();
    for (Mode mode : Mode.values()) {
      for (Fault fault : Fault.values()) {
        for (Cut cut : fault.cuts) {
          out.add(arguments(mode, fault, cut));
        }
      }
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0} mode, {1} at {2}")
  @MethodSource("faults")
  void eventsBeforeAFaultArriveOnceThenTheCutOffEventAsCommentsThenOneErrorEvent(Mode mode, Fault fault, Cut cut)
      throws Exception {
    ChatStream stream = referenceStream();
    int at = cut.in(stream);
    CountDownLatch written = new CountDownLatch(1);
    CountDownLatch reset = new CountDownLatch(1);
    Script script = Script.eventStream().write(fault.wire(stream.payload, at, new Random(at))).signal(written);
    switch (fault) {
      case RESET -> script.await(reset).then(Ending.RESET);
      case IDLE_TIMEOUT, TOTAL_TIMEOUT -> script.then(Ending.STALL);
      default -> script.then(Ending.FIN);
    }
    String id = id("fault");
    long start = System.nanoTime();
    SseClient client = open(fault.mount, upstream.url(id, script), mode);
    SseClient.Result result;
    try {
      if (fault == Fault.RESET) {
        // An RST makes the kernel drop what it has not handed to the proxy yet. Two heartbeats after the
        // upstream's last write show the proxy sat waiting for more, so it had read everything.
        assertThat(written.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
        int before = keepAlives(client.bodySoFar());
        assertThat(client.readUntil(c -> keepAlives(c.bodySoFar()) >= before + 2, HEARTBEAT_WAIT))
            .as("heartbeats while the upstream was silent before its reset; received %s", client.describe()).isTrue();
      }
    } finally {
      reset.countDown();
    }
    result = client.readToEnd(WAIT);
    long elapsed = System.nanoTime() - start;

    assertThat(result.status()).isEqualTo(200);
    assertThat(result.header("Content-Type")).startsWith("text/event-stream");
    StreamCheck.verify(mode, stream, at, End.FAULT, result);
    if (fault == Fault.TOTAL_TIMEOUT) {
      assertThat(Duration.ofNanos(elapsed)).as("ended by the total timeout before the idle timeout could")
          .isLessThan(LONG_IDLE);
    }
    if (fault != Fault.RESET) {
      upstream.exchange(id, WAIT).awaitPeerClosed(WAIT);
    }
  }

  @ParameterizedTest(name = "{0} mode, clean end at {1}")
  @MethodSource("cleanEnds")
  void aCleanEndWithoutDoneEndsTheResponseCleanlyWithoutAnErrorEvent(Mode mode, Cut cut) throws Exception {
    ChatStream stream = referenceStream();
    int at = cut.in(stream);
    Script script = Script.eventStream()
        .write(ChunkedWire.of(stream.payload, at, new Random(at), 40).terminated())
        .then(Ending.CLEAN);

    SseClient.Result result = open("/patient", upstream.url(id("clean"), script), mode).readToEnd(WAIT);

    assertThat(result.status()).isEqualTo(200);
    StreamCheck.verify(mode, stream, at, End.CLEAN, result);
  }

  static Stream<Arguments> cleanEnds() {
    List<Arguments> out = new ArrayList<>();
    for (Mode mode : Mode.values()) {
      for (Cut cut : List.of(Cut.AT_START, Cut.IN_THE_ANSWER, Cut.BEFORE_DONE, Cut.BEFORE_THE_BLANK_LINE,
          Cut.MID_EVENT, Cut.MID_UTF8)) {
        out.add(arguments(mode, cut));
      }
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0} mode")
  @EnumSource(Mode.class)
  void garbageAndHugeEventsPassThroughUnchangedInOrderAndTheStreamGoesOn(Mode mode) throws Exception {
    Random random = new Random(11);
    String hugeAnswer = ChatStream.word(random, 700_000);
    ChatStream stream = ChatStream.builder()
        .role()
        .content("<think>ab", random)
        .event("data: \u00ff\u00fe{\"not utf-8\n\n".getBytes(ISO_8859_1))
        .content("c 😀</thi", random)
        .event("data: not json at all\n\n".getBytes(UTF_8))
        .content("nk>answer ", random)
        .event("a line without a field name\n\n".getBytes(UTF_8))
        .event("event: ping\ndata: {\"type\":\"ping\"}\n\n".getBytes(UTF_8))
        .event("retry: 3000\n\n".getBytes(UTF_8))
        .event(("data: {\"blob\":\"" + "x".repeat(4 << 20) + "\"}\n\n").getBytes(UTF_8))
        .content(hugeAnswer, random)
        .event("data: {\"choices\":\ndata: []}\n\n".getBytes(UTF_8))
        .content(" done", random)
        .stop()
        .done()
        .build();
    // Chunks of up to 5 MiB: some events arrive in one huge chunk, others across many.
    Script script = Script.eventStream()
        .write(ChunkedWire.of(stream.payload, stream.length(), random, 5 << 20).terminated())
        .then(Ending.CLEAN);

    SseClient.Result result = open("/patient", upstream.url(id("garbage"), script), mode).readToEnd(WAIT);

    assertThat(result.status()).isEqualTo(200);
    StreamCheck.verify(mode, stream, stream.length(), End.CLEAN, result);
  }

  /**
   * A client that leaves while the proxy writes to it must not disturb the exchange that comes next on another
   * connection. The race is in the container's recycling of the request, so it is run for a number of rounds.
   */
  @Test
  void aClientLeavingMidStreamDoesNotCutTheNextClientsStream() throws Exception {
    ChatStream stream = referenceStream();
    byte[] wire = ChunkedWire.of(stream.payload, stream.length(), new Random(3), 40).terminated();
    for (int round = 1; round <= 20; round++) {
      CountDownLatch answer = new CountDownLatch(1);
      String leaving = id("leaving");
      SseClient first = open("/patient", upstream.url(leaving,
          Script.eventStream().await(answer).write(wire).then(Ending.CLEAN)), Mode.SPLIT);
      upstream.exchange(leaving, WAIT);
      answer.countDown();
      first.close();
      for (ChatCompletionProxy proxy : proxies.values()) {
        assertThat(proxy.awaitIdle(WAIT)).isTrue();
      }
      assertThat(awaitNoProxyThreads(WAIT)).isEmpty();

      SseClient.Result next = open("/patient", upstream.url(id("next"),
          Script.eventStream().write(wire).then(Ending.CLEAN)), Mode.SPLIT).readToEnd(WAIT);

      assertThat(next.status()).isEqualTo(200);
      try {
        StreamCheck.verify(Mode.SPLIT, stream, stream.length(), End.CLEAN, next);
      } catch (AssertionError e) {
        throw new AssertionError("round " + round + ": " + e.getMessage(), e);
      }
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // 2. Before the response headers

  @Test
  void aResetBeforeTheResponseHeadersGives502Json() throws Exception {
    assertErrorResponse("/patient", Script.noResponse().then(Ending.RESET), 502);
  }

  @Test
  void aResetInsideTheResponseHeadersGives502Json() throws Exception {
    assertErrorResponse("/patient", Script.raw("HTTP/1.1 200 OK\r\nContent-Ty").then(Ending.RESET), 502);
  }

  @Test
  void anUpstreamClosingBeforeTheResponseHeadersGives502Json() throws Exception {
    assertErrorResponse("/patient", Script.noResponse().then(Ending.FIN), 502);
  }

  @Test
  void aRefusedConnectionGives502Json() throws Exception {
    int closedPort;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      closedPort = s.getLocalPort();
    }
    SseClient client = open("/patient", "http://127.0.0.1:" + closedPort + "/v1/chat/completions", Mode.SPLIT);
    assertOpenAiError(client.readToEnd(WAIT), 502);
  }

  @Test
  void noResponseHeadersWithinTheFirstByteTimeoutGive504Json() throws Exception {
    long start = System.nanoTime();
    String id = assertErrorResponse("/firstbyte", Script.noResponse().then(Ending.STALL), 504);
    assertThat(Duration.ofNanos(System.nanoTime() - start))
        .as("answered by the first-byte timeout, before the idle timeout could").isLessThan(LONG_IDLE);
    upstream.exchange(id, WAIT).awaitPeerClosed(WAIT);
  }

  @Test
  void partOfTheResponseHeadersThenSilenceGive504Json() throws Exception {
    long start = System.nanoTime();
    String id = assertErrorResponse("/firstbyte",
        Script.raw("HTTP/1.1 200 OK\r\nContent-Type: text/ev").then(Ending.STALL), 504);
    assertThat(Duration.ofNanos(System.nanoTime() - start))
        .as("answered by the first-byte timeout, before the idle timeout could").isLessThan(LONG_IDLE);
    upstream.exchange(id, WAIT).awaitPeerClosed(WAIT);
  }

  @Test
  void aStreamWaitingLongerThanAHeartbeatIsStartedByTheProxyAndEndsWithTheFirstByteTimeoutAsAnEvent()
      throws Exception {
    String id = id("slow-headers");
    SseClient.Result result = open("/fast", upstream.url(id, Script.noResponse().then(Ending.STALL)), Mode.SPLIT)
        .readToEnd(WAIT);

    assertThat(result.status()).isEqualTo(200);
    assertThat(result.text()).startsWith(": keep-alive\n\n");
    List<String> data = result.text().lines().filter(l -> l.startsWith("data: ")).map(l -> l.substring(6)).toList();
    assertThat(data).as("data lines of %s", result.text()).hasSize(1);
    JsonNode error = JSON.readTree(data.get(0)).path("error");
    assertThat(error.path("code").asText()).isEqualTo("upstream_timeout");
    // The first-byte timeout defaults to the idle timeout of /fast.
    assertThat(error.path("message").asText()).contains("first-byte timeout of 1 s");
    upstream.exchange(id, WAIT).awaitPeerClosed(WAIT);
  }

  private String assertErrorResponse(String mount, Script script, int status) throws Exception {
    String id = id("before-headers");
    SseClient client = open(mount, upstream.url(id, script), Mode.SPLIT);
    assertOpenAiError(client.readToEnd(WAIT), status);
    return id;
  }

  private static void assertOpenAiError(SseClient.Result result, int status) throws IOException {
    assertThat(result.status()).as("status of a response with body %s", result.text()).isEqualTo(status);
    assertThat(result.header("Content-Type")).startsWith("application/json");
    JsonNode root = JSON.readTree(result.body());
    assertThat(root.size()).as("top-level fields of %s", result.text()).isEqualTo(1);
    JsonNode error = root.path("error");
    assertThat(error.path("message").isTextual()).as("error.message in %s", result.text()).isTrue();
    assertThat(error.path("message").asText()).isNotBlank();
    assertThat(error.path("type").isTextual()).as("error.type in %s", result.text()).isTrue();
    assertThat(error.path("code").isTextual()).as("error.code in %s", result.text()).isTrue();
  }

  // -------------------------------------------------------------------------------------------------------------
  // 3. Heartbeats

  /** Where the upstream falls silent. */
  enum Silence {
    AFTER_THE_HEADERS(Cut.AT_START),
    BETWEEN_EVENTS(Cut.HOLDING_A_TAG_PREFIX),
    INSIDE_AN_EVENT(Cut.MID_UTF8);

    final Cut cut;

    Silence(Cut cut) {
      this.cut = cut;
    }
  }

  static Stream<Arguments> silences() {
    List<Arguments> out = new ArrayList<>();
    for (Mode mode : Mode.values()) {
      for (Silence silence : Silence.values()) {
        out.add(arguments(mode, silence));
      }
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0} mode, silent {1}")
  @MethodSource("silences")
  void upstreamSilenceIsFilledWithHeartbeatsBetweenEventsAndTheStreamGoesOn(Mode mode, Silence silence)
      throws Exception {
    ChatStream stream = referenceStream();
    int at = silence.cut.in(stream);
    Random random = new Random(at);
    CountDownLatch silent = new CountDownLatch(1);
    CountDownLatch resume = new CountDownLatch(1);
    Script script = Script.eventStream()
        .write(ChunkedWire.of(stream.payload, 0, at, random, 40).bytes())
        .signal(silent)
        .await(resume)
        .write(ChunkedWire.of(stream.payload, at, stream.length(), random, 40).terminated())
        .then(Ending.CLEAN);
    SseClient client = open("/patient", upstream.url(id("silence"), script), mode);
    try {
      assertThat(silent.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
      int before = keepAlives(client.bodySoFar());
      assertThat(client.readUntil(c -> keepAlives(c.bodySoFar()) >= before + 3, HEARTBEAT_WAIT))
          .as("three heartbeats while the upstream is silent; received %s", client.describe())
          .isTrue();
    } finally {
      resume.countDown();
    }
    SseClient.Result result = client.readToEnd(WAIT);

    assertThat(result.status()).isEqualTo(200);
    StreamCheck.verify(mode, stream, stream.length(), End.CLEAN, result);
  }

  @Test
  void aHealthyStreamLongerThanTheIdleTimeoutIsNeverCut() throws Exception {
    Random random = new Random(5);
    ChatStream.Builder builder = ChatStream.builder().role().content("<think>", random);
    for (int i = 0; i < 16; i++) {
      builder.content(i == 8 ? "step-" + i + "</think>" : "step-" + i + ";", random);
    }
    ChatStream stream = builder.stop().done().build();
    // One event every 300 ms for about 5 s, on the proxy whose idle timeout is 1 s.
    Script script = Script.eventStream();
    for (Event e : SseEvents.complete(stream.payload, stream.length())) {
      script.write(Chunked.chunk(e.raw())).pause(Duration.ofMillis(300));
    }
    script.write(Chunked.end()).then(Ending.CLEAN);

    SseClient.Result result = open("/fast", upstream.url(id("healthy"), script), Mode.SPLIT)
        .readToEnd(WAIT);

    assertThat(result.status()).isEqualTo(200);
    StreamCheck.verify(Mode.SPLIT, stream, stream.length(), End.CLEAN, result);
  }

  @Test
  void aStreamLongerThanTheTotalTimeoutEndsWithAnErrorEvent() throws Exception {
    byte[] tick = ChatStream.builder().content("tick;", null).build().payload;
    String id = id("total");
    Script script = Script.eventStream().repeatUntilPeerCloses(Chunked.chunk(tick), Duration.ofMillis(50));
    long start = System.nanoTime();

    SseClient.Result result = open("/total", upstream.url(id, script), Mode.SPLIT).readToEnd(WAIT);

    Duration elapsed = Duration.ofNanos(System.nanoTime() - start);
    assertThat(result.status()).isEqualTo(200);
    assertThat(elapsed).as("not cut before the total timeout").isGreaterThanOrEqualTo(TOTAL);
    int ticks = (int) (upstream.exchange(id, WAIT).written.get() / tick.length) + 1;
    ChatStream.Builder sent = ChatStream.builder();
    for (int i = 0; i < ticks; i++) {
      sent.content("tick;", null);
    }
    ChatStream stream = sent.build();
    StreamCheck.verifyAnyCut(Mode.SPLIT, stream, 0, stream.length(), result);
    assertThat(SseEvents.complete(result.body(), result.body().length).stream()
        .filter(e -> new String(e.raw(), UTF_8).contains("tick;")).count())
        .as("events before the total timeout").isPositive();
  }

  // -------------------------------------------------------------------------------------------------------------
  // 4. Cancellation

  /** How a client leaves. */
  enum Leave {
    CLOSE,
    RESET;

    void apply(SseClient client) throws IOException {
      if (this == CLOSE) {
        client.close();
      } else {
        client.reset();
      }
    }
  }

  @ParameterizedTest
  @EnumSource(Leave.class)
  void aClientLeavingMidStreamCancelsTheUpstreamCall(Leave leave) throws Exception {
    byte[] tick = ChatStream.builder().content("tick;", null).build().payload;
    String id = id("leave-mid-stream");
    Script script = Script.eventStream().repeatUntilPeerCloses(Chunked.chunk(tick), Duration.ofMillis(50));
    Duration cancel = leaveAfter("tick;", leave, id, script, Mode.SPLIT);

    // The proxy notices at its next write or the one after; writes come every 50 ms here.
    assertThat(cancel).as("from the client leaving to the upstream call's end")
        .isLessThanOrEqualTo(CANCEL_BOUND.plus(HEARTBEAT));
  }

  @ParameterizedTest
  @EnumSource(Leave.class)
  void aClientLeavingWhileTheUpstreamIsSilentCancelsTheUpstreamCall(Leave leave) throws Exception {
    String id = id("leave-in-silence");
    Script script = Script.eventStream()
        .write(Chunked.chunk(ChatStream.builder().content("thinking", null).build().payload))
        .then(Ending.STALL);
    Duration cancel = leaveAfter("thinking", leave, id, script, Mode.OFF);

    // Heartbeats find the client gone: within an interval, a second one for a FIN, then the contract's 1 s.
    assertThat(cancel).as("from the client leaving to the upstream call's end")
        .isLessThanOrEqualTo(HEARTBEAT.plus(Duration.ofSeconds(1)).plus(CANCEL_BOUND));
  }

  @ParameterizedTest
  @EnumSource(Leave.class)
  void aClientLeavingWhileTheUpstreamHasNotAnsweredCancelsTheUpstreamCall(Leave leave) throws Exception {
    String id = id("leave-before-any-answer");
    // The proxy starts the stream itself after a heartbeat interval without an answer.
    Duration cancel = leaveAfter("keep-alive", leave, id, Script.noResponse().then(Ending.STALL), Mode.SPLIT);

    assertThat(cancel).as("from the client leaving to the upstream call's end")
        .isLessThanOrEqualTo(HEARTBEAT.plus(Duration.ofSeconds(1)).plus(CANCEL_BOUND));
  }

  /**
   * Opens a stream on /patient, leaves once {@code marker} has arrived, and returns how long the upstream call
   * outlived the client.
   */
  private Duration leaveAfter(String marker, Leave leave, String id, Script script, Mode mode) throws Exception {
    SseClient client = open("/patient", upstream.url(id, script), mode);
    assertThat(client.readUntil(c -> new String(c.bodySoFar(), UTF_8).contains(marker), WAIT)).isTrue();

    long left = System.nanoTime();
    leave.apply(client);
    long closed = upstream.exchange(id, WAIT).awaitPeerClosed(WAIT);
    return Duration.ofNanos(closed - left);
  }

  @ParameterizedTest
  @EnumSource(Leave.class)
  void aClientLeavingBeforeTheResponseHeadersIsNoticedWhenTheUpstreamAnswers(Leave leave) throws Exception {
    byte[] tick = ChatStream.builder().content("tick;", null).build().payload;
    CountDownLatch answer = new CountDownLatch(1);
    String id = id("leave-before-headers");
    Script script = Script.noResponse()
        .await(answer)
        .write(Script.EVENT_STREAM_HEAD.getBytes(ISO_8859_1))
        .repeatUntilPeerCloses(Chunked.chunk(tick), Duration.ofMillis(50));
    SseClient client = open("/patient", upstream.url(id, script), Mode.SPLIT);
    FaultUpstream.Exchange exchange = upstream.exchange(id, WAIT);
    long answered;
    try {
      leave.apply(client);
    } finally {
      answered = System.nanoTime();
      answer.countDown();
    }
    long closed = exchange.awaitPeerClosed(WAIT);

    assertThat(Duration.ofNanos(closed - answered)).as("from the upstream's answer to the upstream call's end")
        .isLessThanOrEqualTo(CANCEL_BOUND.plus(HEARTBEAT));
  }

  // -------------------------------------------------------------------------------------------------------------
  // 5. Backpressure

  @Test
  void aSlowClientHoldsTheUpstreamBackThenGetsEveryByteInOrder() throws Exception {
    long streamBytes = 200L << 20;
    long bound = 32L << 20;
    CountedStream flood = new CountedStream(20_000, streamBytes);
    String id = id("flood");
    Script script = Script.eventStream().generate(flood.wire()).then(Ending.CLEAN);
    SseClient client = SseClient.post(port, path("/patient", upstream.url(id, script)),
        SseClient.modeHeaders(Mode.SPLIT), SseClient.streamRequest(), 4096);
    clients.add(client);

    client.readSlowly(1024, Duration.ofSeconds(5));
    long writtenWhileSlow = upstream.exchange(id, WAIT).written.get();
    // Reported for docs/RELIABILITY.md: how much a 1 KB/s client lets the upstream send in all.
    System.out.println(getClass().getSimpleName() + ": backpressure: the upstream wrote " + writtenWhileSlow
        + " bytes while the client read 1 KB/s for 5 s");
    assertThat(writtenWhileSlow).as("bytes the upstream wrote while the client read 1 KB/s for 5 s")
        .isLessThan(bound);

    CountedStream.Check check = flood.check();
    check.feed(client.bodySoFar());
    client.streamTo(check::feed);
    SseClient.Result result = client.readToEnd(Duration.ofMinutes(2));

    assertThat(result.status()).isEqualTo(200);
    assertThat(result.terminated()).as("ended with the chunked terminator").isTrue();
    check.assertComplete();
  }

  // -------------------------------------------------------------------------------------------------------------
  // 7. Random run

  @Test
  void aRandomMixOfFaultsKeepsTheInvariantForEveryStream() throws Exception {
    long seed = Long.getLong("faults.seed", new Random().nextLong());
    int streams = Integer.getInteger("faults.streams", 300);
    System.out.println(getClass().getSimpleName() + ": random fault run of " + streams + " streams, seed " + seed
        + " (replay with -Dfaults.seed=" + seed + ")");
    ExecutorService pool = Executors.newFixedThreadPool(8);
    List<Future<String>> results = new ArrayList<>();
    try {
      for (int i = 0; i < streams; i++) {
        int index = i;
        results.add(pool.submit(() -> randomStream(seed, index)));
      }
      List<String> failures = new ArrayList<>();
      for (Future<String> f : results) {
        String failure = f.get(WAIT.multipliedBy(3).toMillis(), TimeUnit.MILLISECONDS);
        if (failure != null) {
          failures.add(failure);
        }
      }
      assertThat(failures).as("streams that broke the contract, seed %d", seed).isEmpty();
    } finally {
      pool.shutdownNow();
      pool.awaitTermination(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    }
  }

  /** One random stream: returns null when it kept the contract, else what went wrong. */
  private String randomStream(long seed, int index) {
    Random random = new Random(seed * 31 + index);
    Mode mode = random.nextInt(10) < 7 ? Mode.SPLIT : Mode.OFF;
    RandomStream s = RandomStream.draw(random);
    String id = id("random-" + index);
    String what = "stream " + index + " (" + mode + ", " + s + ")";
    try {
      SseClient client = open("/fast", upstream.url(id, s.script(random)), mode);
      if (s.ending == RandomStream.Ending.CLIENT_LEAVES) {
        FaultUpstream.Exchange exchange = upstream.exchange(id, WAIT);
        client.readUntil(c -> c.bodyBytes() >= s.leaveAfterBytes, WAIT);
        if (random.nextBoolean()) {
          client.reset();
        } else {
          client.close();
        }
        s.answer.countDown();
        exchange.awaitPeerClosed(WAIT);
        return null;
      }
      SseClient.Result result = client.readToEnd(WAIT);
      if (result.status() != 200) {
        return what + ": status " + result.status() + " " + result.text();
      }
      switch (s.ending) {
        case CLEAN -> StreamCheck.verify(mode, s.stream, s.cut, End.CLEAN, result);
        case RESET -> StreamCheck.verifyAnyCut(mode, s.stream, 0, s.cut, result);
        default -> StreamCheck.verify(mode, s.stream, s.cut, End.FAULT, result);
      }
      upstream.exchange(id, WAIT).awaitOutcome(WAIT);
      return null;
    } catch (AssertionError | Exception e) {
      return what + ": " + e;
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Helpers

  private String id(String what) {
    return what + "-" + ids.incrementAndGet();
  }

  /** The servlet path for {@code upstreamUrl} under {@code mount}, in the collapsed form every container accepts. */
  private static String path(String mount, String upstreamUrl) {
    return mount + "/" + upstreamUrl.replaceFirst("^http://", "http:/");
  }

  private SseClient open(String mount, String upstreamUrl, Mode mode) throws IOException {
    SseClient client = SseClient.post(port, path(mount, upstreamUrl), SseClient.modeHeaders(mode),
        SseClient.streamRequest(), 0);
    clients.add(client);
    return client;
  }

  static int keepAlives(byte[] body) {
    int n = 0;
    for (Event e : SseEvents.complete(body, body.length)) {
      if (e.isKeepAlive()) {
        n++;
      }
    }
    return n;
  }

  private static int indexOf(ChatStream stream, String marker) {
    byte[] m = marker.getBytes(UTF_8);
    byte[] p = stream.payload;
    outer:
    for (int i = 0; i + m.length <= p.length; i++) {
      for (int j = 0; j < m.length; j++) {
        if (p[i + j] != m[j]) {
          continue outer;
        }
      }
      return i;
    }
    throw new IllegalArgumentException("not in the stream: " + marker);
  }

  private static int endOfEventWith(ChatStream stream, String marker) {
    int i = indexOf(stream, marker);
    byte[] p = stream.payload;
    while (!(p[i] == '\n' && p[i + 1] == '\n')) {
      i++;
    }
    return i + 2;
  }

  /**
   * Threads other than this one with a frame of the proxy's own code (not of these tests) on their stack, once
   * there are none or {@code timeout} has passed.
   */
  private static List<String> awaitNoProxyThreads(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      List<String> busy = new ArrayList<>();
      for (Map.Entry<Thread, StackTraceElement[]> e : Thread.getAllStackTraces().entrySet()) {
        if (e.getKey() == Thread.currentThread()) {
          continue;
        }
        for (StackTraceElement frame : e.getValue()) {
          if (isProxyCode(frame.getClassName())) {
            busy.add(e.getKey().getName() + " at " + frame);
            break;
          }
        }
      }
      if (busy.isEmpty() || System.nanoTime() > deadline) {
        return busy;
      }
      Thread.sleep(20); // polling a condition no event signals
    }
  }

  private static boolean isProxyCode(String className) {
    if (!className.startsWith("dev.thinkproxy.")) {
      return false;
    }
    int lambda = className.indexOf("$$");
    String name = lambda < 0 ? className : className.substring(0, lambda);
    try {
      CodeSource source = Class.forName(name, false, AbstractFaultInjectionIT.class.getClassLoader())
          .getProtectionDomain().getCodeSource();
      return source == null || !source.getLocation().getPath().contains("test-classes");
    } catch (ClassNotFoundException e) {
      return true;
    }
  }

  /**
   * A long stream whose text is a pure function of the position in it, so that it can be generated and checked
   * piece by piece without holding it: reasoning {@code r0000000;r0000001;…}, then answer
   * {@code c0000000;c0000001;…}, then {@code [DONE]}.
   */
  static final class CountedStream {
    private static final int PIECE = 9;
    private final int reasoningPieces;
    private final long answerPieces;

    CountedStream(int reasoningPieces, long approximateBytes) {
      this.reasoningPieces = reasoningPieces;
      long eventBytes = ChatStream.builder().content("c0000000;", null).build().payload.length;
      this.answerPieces = approximateBytes / eventBytes;
    }

    /** The chunked body: each chunk about 64 KiB of whole events, then the terminating chunk. */
    Iterator<byte[]> wire() {
      return new Iterator<>() {
        long next = -2; // -2: role and opening tag; then pieces; then the end
        boolean ended;

        @Override
        public boolean hasNext() {
          return !ended;
        }

        @Override
        public byte[] next() {
          if (ended) {
            throw new NoSuchElementException();
          }
          ChatStream.Builder b = ChatStream.builder();
          if (next == -2) {
            b.role().content("<think>", null);
            next = 0;
          }
          long total = reasoningPieces + answerPieces;
          for (int i = 0; i < 300 && next < total; i++, next++) {
            if (next == reasoningPieces) {
              b.content("</think>", null);
            }
            b.content(piece(next), null);
          }
          if (next == total) {
            b.stop().done();
            ended = true;
            byte[] events = b.build().payload;
            byte[] chunk = Chunked.chunk(events);
            byte[] end = Chunked.end();
            byte[] out = Arrays.copyOf(chunk, chunk.length + end.length);
            System.arraycopy(end, 0, out, chunk.length, end.length);
            return out;
          }
          return Chunked.chunk(b.build().payload);
        }
      };
    }

    private String piece(long n) {
      long k = n < reasoningPieces ? n : n - reasoningPieces;
      String digits = Long.toString(10_000_000 + k).substring(1);
      return (n < reasoningPieces ? "r" : "c") + digits + ";";
    }

    Check check() {
      return new Check();
    }

    /** Checks a client's stream as it arrives. */
    final class Check {
      private final Counted reasoning = new Counted('r', reasoningPieces);
      private final Counted content = new Counted('c', answerPieces);
      private final SseEvents events = new SseEvents(this::event);
      private final List<String> problems = new ArrayList<>();
      private boolean done;

      void feed(byte[] bytes) {
        events.feed(bytes, 0, bytes.length);
      }

      private void event(Event e) {
        if (e.isKeepAlive() || e.lines().isEmpty()) {
          return;
        }
        byte[] data = e.data();
        if (data != null && new String(data, UTF_8).equals("[DONE]")) {
          done = true;
          return;
        }
        JsonNode chunk = StreamCheck.chunkOf(e);
        if (chunk == null) {
          problem("an event that is not a chunk: " + e);
          return;
        }
        JsonNode delta = chunk.path("choices").path(0).path("delta");
        reasoning.append(delta.path("reasoning_content").asText(""));
        content.append(delta.path("content").asText(""));
      }

      private void problem(String p) {
        if (problems.size() < 5) {
          problems.add(p);
        }
      }

      void assertComplete() {
        assertThat(problems).isEmpty();
        assertThat(reasoning.mismatch).as("reasoning").isNull();
        assertThat(content.mismatch).as("content").isNull();
        assertThat(reasoning.position).as("reasoning characters").isEqualTo((long) reasoningPieces * PIECE);
        assertThat(content.position).as("content characters").isEqualTo(answerPieces * PIECE);
        assertThat(done).as("[DONE] arrived").isTrue();
      }
    }

    /** Text {@code t0000000;t0000001;…} compared character by character as it arrives. */
    static final class Counted {
      private final char tag;
      private final long pieces;
      long position;
      String mismatch;

      Counted(char tag, long pieces) {
        this.tag = tag;
        this.pieces = pieces;
      }

      void append(String text) {
        for (int i = 0; i < text.length(); i++, position++) {
          char expected = charAt(position);
          if (text.charAt(i) != expected && mismatch == null) {
            mismatch = "at " + position + ": expected '" + expected + "' but got '" + text.charAt(i) + "' in \""
                + text + "\"";
          }
        }
      }

      private char charAt(long p) {
        long n = p / PIECE;
        int k = (int) (p % PIECE);
        if (n >= pieces) {
          return '\0';
        }
        if (k == 0) {
          return tag;
        }
        if (k == PIECE - 1) {
          return ';';
        }
        long digit = n;
        for (int d = 0; d < 7 - k; d++) {
          digit /= 10;
        }
        return (char) ('0' + digit % 10);
      }
    }
  }
}
