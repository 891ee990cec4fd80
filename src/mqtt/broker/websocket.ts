/**
 * MQTT over WebSocket (MQTT 3.1.1 section 6) on an existing HTTP server: the gateway serves it on
 * the client port at `mqtt.websocket_path`, so browsers and dashboards need no extra port.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, createWebSocketStream } from 'ws';

/** Hands one upgraded connection, as a byte stream, to the broker. */
export type ConnectionHandler = (stream: Duplex, req: IncomingMessage) => void;

export class MqttWebSocketEndpoint {
  private readonly wss: WebSocketServer;

  constructor(
    private readonly onConnection: ConnectionHandler,
    maxMessageBytes: number,
  ) {
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: maxMessageBytes,
      // The client must offer the "mqtt" subprotocol and the server must select it [MQTT-6.0.0-3/4].
      handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : false),
    });
  }

  /** Completes an HTTP upgrade that was already matched to the MQTT path. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      // MQTT control packets may span WebSocket frames and frames may hold several [MQTT-6.0.0-2]:
      // a byte stream over the messages is exactly what the broker's parser wants.
      const stream = createWebSocketStream(ws);
      stream.on('error', () => stream.destroy());
      this.onConnection(stream, req);
    });
  }

  /**
   * Serves MQTT on `path` of `server` through its `upgrade` event; other paths are left to other
   * listeners. Returns a function that detaches again.
   */
  attach(server: Server, path: string): () => void {
    const listener = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
      const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
      if (pathname === path) this.handleUpgrade(req, socket, head);
    };
    server.on('upgrade', listener);
    return () => server.off('upgrade', listener);
  }

  /** Closes every open MQTT WebSocket connection. */
  close(): void {
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
  }
}
