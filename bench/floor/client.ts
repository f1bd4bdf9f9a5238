// P5's floor for the commands that talk to the server: a process that loads the Temporal client, connects and
// makes the one call the command is about (`start`: start a workflow, as `orchestrate run --no-wait` does;
// `list`: one page of running workflows, as `orchestrate status` lists them), then exits. What any CLI on this
// SDK pays for that round trip, so ours is shown over it.
//   node dist-bench/bench/floor/client.js <start|list> <address> <namespace> <task queue>
import { Client, Connection } from '@temporalio/client';

/** The workflow `start` starts (no worker runs it): the bench terminates it before the next start. */
export const FLOOR_CLIENT_WORKFLOW_ID = 'floor/p5/start';

async function main([what, address, namespace, taskQueue]: string[]): Promise<void> {
  const connection = await Connection.connect({ address });
  try {
    const client = new Client({ connection, namespace });
    if (what === 'start') {
      await client.workflow.start('floorOneActivity', {
        taskQueue,
        workflowId: FLOOR_CLIENT_WORKFLOW_ID,
        args: [{}],
      });
    } else {
      for await (const w of client.workflow.list({ query: `TaskQueue = "${taskQueue}"`, pageSize: 100 })) void w;
    }
  } finally {
    await connection.close();
  }
}

if (require.main === module)
  main(process.argv.slice(2)).catch((err: Error) => {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  });
