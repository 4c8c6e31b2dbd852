/**
 * What `leadrelay --help` and `leadrelay COMMAND --help` print. Kept apart
 * from the dispatcher so both read as a reference, and so an unknown option
 * can be answered with the usage of the command it was given to.
 */

const CONFIG =
  '--config PATH   the main configuration (default $LEADRELAY_CONFIG, then config/leadrelay.yaml)';

/** One command's usage, shown by `leadrelay COMMAND --help` and after a usage error. */
export const COMMAND_HELP: Record<string, string> = {
  demo: `Usage: leadrelay demo [--exit] [--json-summary FILE] [--dir PATH] [--timeout SECONDS]

The whole pipeline on this machine: sandbox HubSpot, Salesforce, Slack and a webhook
receiver, a morning of signed sample events, and a summary of where each landed; then it
keeps serving (admin page address and token printed) until Ctrl-C.
  --exit               stop after the summary
  --json-summary FILE  also write the summary as JSON
  --dir PATH           keep the demo's files there (default: a temporary folder)
  --timeout SECONDS    give up when the events are not all delivered by then`,
  serve: `Usage: leadrelay serve [--no-worker] [--config PATH]

The HTTP server (POST /webhooks/SOURCE, /healthz, /readyz, /metrics, /admin) and the
delivery worker. Exits 1 on an invalid configuration, 2 when it cannot start (for example
the port is in use).
  --no-worker     HTTP only; run \`leadrelay worker\` processes to deliver
  ${CONFIG}`,
  worker: `Usage: leadrelay worker [--config PATH]

The delivery worker alone; run several (on PostgreSQL, or beside \`serve --no-worker\`)
to deliver more at once (docs/scaling.md).
  ${CONFIG}`,
  migrate: `Usage: leadrelay migrate [--config PATH]

Applies the database migrations (serve and worker also do it at start).
  ${CONFIG}`,
  'send-test': `Usage: leadrelay send-test [--source NAME] [--type TYPE] [--url URL] [--wait SECONDS] [--config PATH]

Signs a sample event of each type with the source's secret, posts it to a running server,
and then shows what became of each delivery (read from the database) for up to --wait
seconds (default 10; 0 to skip).
  --source NAME   a source of the configuration (default: the first)
  --type TYPE     lead.qualified, conversation.escalated or feedback.submitted (default: all three)
  --url URL       the server (default http://127.0.0.1:server.port)
  ${CONFIG}`,
  check: `Usage: leadrelay check [--config PATH]

Validates the main file and every connector file; exit 1 with one file:line:col line per problem.
  ${CONFIG}`,
  preview: `Usage: leadrelay preview EVENT.json [--source NAME] [--connector NAME] [--json]
       leadrelay preview --event ID [--json]

Prints the requests each routed connector would send for an event; sends nothing. With a
mapped --source, EVENT.json is the platform's raw payload and the canonical event is shown
first. With --event, an event that arrived (ignored ones too) runs through the files on
disk now: the canonical event, each route's verdict, the requests.
  ${CONFIG}`,
  sources: `Usage: leadrelay sources [--json] [--config PATH]

Per source: the last event, counts by type and outcome, fields missing, drift warnings.`,
  schema: `Usage: leadrelay schema [--out DIR] [--config PATH]

Writes JSON Schemas for the YAML files (editor autocompletion) to config/schema/ or DIR.`,
  deliveries: `Usage: leadrelay deliveries list [--status STATUS] [--connector NAME] [--limit N] [--json]
       leadrelay deliveries retry ID… | --dead [--connector NAME]

list    outbox rows, newest first; STATUS is pending, leased, delivered or dead
retry   put dead deliveries back in the queue, due now
Reads only the database: section, so it works while the rest of the configuration is broken.
  ${CONFIG}`,
  sandbox: `Usage: leadrelay sandbox hubspot|salesforce|slack|webhook [--port N] [--secret whsec_…]

Runs a local imitation of a destination on 127.0.0.1 until Ctrl-C, prints the connector
file and .env lines that point a connector at it, and logs each request it receives and
what it did (contact created, message posted, signature verified). Default ports: webhook
8088 (path /leadrelay, where the example forward connector delivers), hubspot 8091,
salesforce 8092, slack 8093; --port 0 picks a free one.
  --secret whsec_…  webhook only: check each request's Standard Webhooks signature`,
  identities: `Usage: leadrelay identities show EMAIL|PHONE|CONVERSATION [--region CC] [--json] [--config PATH]

The records a person maps to in each connector (the identity map, docs/identity.md), and
every identifier — conversation, visitor id, email, phone — that leads to each record, with
the event that last resolved it. A phone without a country code is read in --region
(default US). Reads only the database: section.
  ${CONFIG}`,
  backup: `Usage: leadrelay backup FILE [--force] [--config PATH]

A consistent copy of the SQLite database, taken with SQLite's online backup while serve and
workers keep running; checked, then moved into place. Refuses an existing FILE unless
--force. For PostgreSQL use pg_dump (docs/deployment.md). Reads only the database: section.
  ${CONFIG}`,
  events: `Usage: leadrelay events list [--email ADDRESS] [--type TYPE] [--source NAME] [--since AGE] [--limit N] [--json]
       leadrelay events show ID [--json]
       leadrelay events replay ID

list    events newest first; --email finds a person's events (as sent or as corrected),
        --since 2h / 3d / an ISO date limits how far back
show    one event with its deliveries and every attempt
replay  deliver the event again to the routes of the configuration now
list and show read only the database: section, so they work while the rest of the
configuration is broken.
  ${CONFIG}`,
};

/** `leadrelay --help`. */
export const HELP = `leadrelay — chatbot webhooks in, CRM records and sales alerts out

Usage: leadrelay <command> [options]     leadrelay <command> --help for its options

Commands:
  demo                  the whole pipeline locally with sandbox CRMs and Slack; then serves until Ctrl-C
  serve [--no-worker]   HTTP server and delivery worker (--no-worker: HTTP only)
  worker                delivery worker only (run several for scale-out)
  migrate               apply database migrations
  send-test             sign and POST sample events to a running server, then show their deliveries
  sandbox KIND          a local HubSpot, Salesforce, Slack or webhook receiver to try a connector against
  check                 validate the configuration (exit 1 with file:line:col lines)
  preview EVENT.json    print the requests each routed connector would send; sends nothing
  preview --event ID    run an event that arrived through the configuration on disk now
  sources               per source: last event, counts, fields missing, drift warnings
  schema                write JSON Schemas for the YAML files to config/schema/
  deliveries list       outbox rows [--status pending|leased|delivered|dead] [--connector NAME]
  deliveries retry      put dead deliveries back in the queue: ID… | --dead [--connector NAME]
  events list           events newest first [--email ADDRESS] [--type TYPE] [--since 2h]
  events show ID        one event with its deliveries and attempts
  events replay ID      deliver an event again to its routes
  identities show X     the CRM records a person (email, phone or conversation) maps to, per connector
  backup FILE           a consistent copy of the SQLite database while it runs (PostgreSQL: pg_dump)

Options for every command: --config PATH (default $LEADRELAY_CONFIG, then
config/leadrelay.yaml), --help. leadrelay --version prints the version.
Documentation: README.md and docs/ in the leadrelay repository.`;

/**
 * Node's parseArgs error, said in our words with the command's usage below it
 * (Node's own text talks about positionals and `--` separators).
 *
 * @example
 * usageErrorText('deliveries', { code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION', message: "Unknown option '--stauts'…" })
 * // 'leadrelay deliveries: unknown option --stauts\n\nUsage: leadrelay deliveries list …'
 */
export function usageErrorText(command: string | undefined, error: Error & { code?: string }): string {
  // Node quotes the option as '--stauts', '--status <value>' or '-s, --status <value>'.
  const option = /'(?:-\w, )?(--?[\w-]+)/.exec(error.message)?.[1];
  const what =
    error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
      ? `unknown option ${option ?? ''}`.trim()
      : error.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE'
        ? /argument missing/i.test(error.message)
          ? `option ${option ?? ''} needs a value`
          : `option ${option ?? ''} takes no value`
        : error.message;
  const usage = command === undefined ? undefined : COMMAND_HELP[command];
  return `leadrelay${command ? ` ${command}` : ''}: ${what}${usage ? `\n\n${usage}` : ''}`;
}
