package org.ntmexplorer.neo4j;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.neo4j.configuration.GraphDatabaseInternalSettings;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.BoltConnectorInternalSettings;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.graphdb.Result;
import org.neo4j.graphdb.Transaction;
import org.neo4j.io.ByteUnit;

/**
 * A throwaway Neo4j 5 Community server: the embedded database with its Bolt connector
 * listening on one loopback port, nothing else (no HTTP, no usage reports).
 *
 * <pre>
 *   java -cp "target/classes:target/lib/*" org.ntmexplorer.neo4j.ThrowawayNeo4j \
 *        --home DIR --port PORT [--password PW] [--no-auth] [--exit-with PID]
 * </pre>
 *
 * With auth on (the default), the user {@code neo4j} gets the given password, so a client
 * with a wrong password is really refused. Restarting on the same {@code --home} keeps the
 * data. Once Bolt accepts connections the program prints one line
 * {@code BOLT_READY bolt://127.0.0.1:PORT} on stdout; SIGTERM (or Ctrl-C) shuts the
 * database down cleanly and then the program exits 0. With {@code --exit-with PID} it also
 * shuts down when that process is gone (a test session that died cannot leave it behind).
 */
public final class ThrowawayNeo4j {

    private ThrowawayNeo4j() {}

    public static void main(String[] args) throws Exception {
        Path home = null;
        int port = -1;
        String password = "ntm-explorer-test";
        boolean auth = true;
        long exitWith = -1;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--home" -> home = Path.of(args[++i]).toAbsolutePath();
                case "--port" -> port = Integer.parseInt(args[++i]);
                case "--password" -> password = args[++i];
                case "--no-auth" -> auth = false;
                case "--exit-with" -> exitWith = Long.parseLong(args[++i]);
                default -> usage("unknown argument " + args[i]);
            }
        }
        if (home == null || port <= 0) {
            usage("--home and --port are required");
        }

        DatabaseManagementService service = new DatabaseManagementServiceBuilder(home)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
                .setConfig(BoltConnector.advertised_address, new SocketAddress("127.0.0.1", port))
                .setConfig(GraphDatabaseSettings.auth_enabled, auth)
                .setConfig(GraphDatabaseSettings.udc_enabled, false)
                // Small and quick: a test server on a shared 2-core machine.
                .setConfig(GraphDatabaseSettings.pagecache_memory, ByteUnit.mebiBytes(256))
                .setConfig(GraphDatabaseSettings.preallocate_logical_logs, false)
                .setConfig(GraphDatabaseSettings.keep_logical_logs, "false")
                // Stop in about a second instead of Netty's default ~10 s quiet periods
                // (internal settings of the pinned 5.26; the data is safe before this point).
                .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_quiet_period, 0)
                .setConfig(BoltConnectorInternalSettings.connection_shutdown_wait_time, Duration.ofSeconds(1))
                .build();

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("SHUTTING_DOWN");
            System.out.flush();
            service.shutdown();
            stopped.countDown();
        }, "neo4j-shutdown"));

        if (auth) {
            setPassword(service.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME), password);
        }
        // The default database must be up before we announce Bolt.
        GraphDatabaseService neo4j = service.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME);
        neo4j.executeTransactionally("RETURN 1");

        System.out.println("BOLT_READY bolt://127.0.0.1:" + port);
        System.out.flush();
        if (exitWith > 0) {
            watchParent(exitWith);
        }
        stopped.await();
    }

    /** Give user neo4j a known password (once: a restart on the same home keeps it). */
    private static void setPassword(GraphDatabaseService system, String password) {
        boolean changeRequired;
        try (Transaction tx = system.beginTx();
             Result r = tx.execute("SHOW USERS YIELD user, passwordChangeRequired "
                     + "WHERE user = 'neo4j' RETURN passwordChangeRequired")) {
            changeRequired = !r.hasNext() || Boolean.TRUE.equals(r.next().get("passwordChangeRequired"));
        }
        if (changeRequired) {
            system.executeTransactionally(
                    "ALTER USER neo4j SET PASSWORD $password CHANGE NOT REQUIRED",
                    Map.of("password", password));
        }
    }

    /** Exit (running the shutdown hook) once process {@code pid} has ended. */
    private static void watchParent(long pid) {
        Thread watcher = new Thread(() -> {
            while (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
                try {
                    Thread.sleep(1000);
                } catch (InterruptedException e) {
                    return;
                }
            }
            System.out.println("PARENT_GONE " + pid);
            System.exit(0);
        }, "parent-watcher");
        watcher.setDaemon(true);
        watcher.start();
    }

    private static void usage(String problem) {
        System.err.println("ThrowawayNeo4j: " + problem);
        System.err.println("usage: ThrowawayNeo4j --home DIR --port PORT [--password PW] [--no-auth] [--exit-with PID]");
        System.exit(2);
    }
}
