import type { TaskRecord } from '@protes/core';
import type { TesTask, TesTaskLog } from '@protes/tes';

/**
 * The FULL TES task of a record, with the gateway's id. The node's own task logs come first and
 * unchanged (clients read the exit code from logs[0].logs[0]); the gateway adds where the task runs
 * (node, remote id, the middleware chain's decisions, the lifecycle's history) to their metadata and its own notes to their
 * system logs.
 */
export function toTesTask(record: TaskRecord): TesTask {
  const metadata: Record<string, string> = {};
  if (record.node) metadata.protes_node = record.node;
  if (record.remoteId) metadata.protes_remote_id = record.remoteId;
  if (record.attempts.length) {
    metadata.protes_attempts = record.attempts
      .map((a) => {
        if (a.inFlight) return `${a.node}: sending`;
        return a.error ? `${a.node}: failed (${a.error})` : `${a.node}: accepted as ${a.remoteId}`;
      })
      .join('; ');
  }
  // Metadata values are strings: the decisions go as compact JSON.
  if (record.decisions?.length) metadata.protes_decisions = JSON.stringify(record.decisions);
  // What happened to the task, in order: each lifecycle event with its time, actor and node.
  if (record.history?.length) metadata.protes_history = JSON.stringify(record.history);
  // Nodes that omit empty lists (as protobuf-based servers do) still give valid TES here.
  const logs: TesTaskLog[] = record.remoteLogs.map((log) => ({
    ...log,
    logs: log.logs ?? [],
    outputs: log.outputs ?? [],
  }));
  if (logs.length === 0 && (Object.keys(metadata).length || record.systemLogs.length)) {
    logs.push({ logs: [], outputs: [] });
  }
  if (logs.length) {
    const last = logs[logs.length - 1];
    if (Object.keys(metadata).length) last.metadata = { ...last.metadata, ...metadata };
    if (record.systemLogs.length)
      last.system_logs = [...(last.system_logs ?? []), ...record.systemLogs];
  }
  return {
    id: record.id,
    state: record.state,
    ...record.received,
    logs,
    creation_time: record.createdAt,
  };
}
