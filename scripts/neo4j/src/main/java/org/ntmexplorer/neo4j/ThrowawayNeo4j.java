package org.ntmexplorer.neo4j;

import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
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
 *        --home DIR --port PORT [--password PW] [--no-auth]
 * </pre>
 *
 * With auth on (the default), the user {@code neo4j} gets the given password, so a client
 * with a wrong password is really refused. Restarting on the same {@code --home} keeps the
 * data. Once Bolt accepts connections the program prints one line
 * {@code BOLT_READY bolt://127.0.0.1:PORT} on stdout; SIGTERM (or Ctrl-C) shuts the
 * database down cleanly and then the program exits 0.
 */
public final class ThrowawayNeo4j {

    private ThrowawayNeo4j() {}

    public static void main(String[] args) throws Exception {
        Path home = null;
        int port = -1;
        String password = "ntm-explorer-test";
        boolean auth = true;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--home" -> home = Path.of(args[++i]).toAbsolutePath();
                case "--port" -> port = Integer.parseInt(args[++i]);
                case "--password" -> password = args[++i];
                case "--no-auth" -> auth = false;
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

    private static void usage(String problem) {
        System.err.println("ThrowawayNeo4j: " + problem);
        System.err.println("usage: ThrowawayNeo4j --home DIR --port PORT [--password PW] [--no-auth]");
        System.exit(2);
    }
}
