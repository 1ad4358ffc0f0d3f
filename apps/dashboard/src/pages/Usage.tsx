import { useQuery } from "@tanstack/react-query";
import { useId, useState } from "react";
import { useSearchParams } from "react-router";
import {
  Bar,
  BarChart,
  CartesianGrid,
  Legend,
  Line,
  LineChart,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";
import { serviceNames } from "../components/services.ts";
import { formatNumber } from "../format.ts";
import { type Outputs, useTRPC } from "../trpc.ts";
import { SelectField } from "../ui/Field.tsx";
import { PageHeader } from "../ui/Page.tsx";
import { Empty, ErrorState, Loading } from "../ui/states.tsx";

const RANGES = [
  ["1", "Last 24 hours"],
  ["7", "Last 7 days"],
  ["30", "Last 30 days"],
  ["90", "Last 90 days"],
] as const;
const BY = [
  ["instance", "Instance"],
  ["service", "Service"],
  ["tool", "Tool"],
] as const;
type By = (typeof BY)[number][0];
type Group = Outputs["usage"]["summary"]["groups"][number];

const errorsOf = (g: Group) => Object.values(g.errors).reduce((a, b) => a + b, 0);

function useRange(days: number) {
  // Whole hours, so the query key stays the same while the page is open.
  const [now] = useState(() => Math.ceil(Date.now() / 3_600_000) * 3_600_000);
  return { from: new Date(now - days * 86_400_000).toISOString(), to: new Date(now).toISOString() };
}

export default function Usage() {
  const trpc = useTRPC();
  const id = useId();
  const [params, setParams] = useSearchParams();
  const days = Number(RANGES.find(([v]) => v === params.get("range"))?.[0] ?? "7");
  const by: By = BY.find(([v]) => v === params.get("by"))?.[0] ?? "instance";
  const range = useRange(days);
  const services = useQuery(trpc.services.list.queryOptions());
  const instances = useQuery(trpc.instances.list.queryOptions());
  const perDay = useQuery(
    trpc.usage.summary.queryOptions({ ...range, groupBy: "day" }, { refetchInterval: 10_000 }),
  );
  const perGroup = useQuery(
    trpc.usage.summary.queryOptions({ ...range, groupBy: by }, { refetchInterval: 10_000 }),
  );
  const names = serviceNames(services.data);
  const instanceNames = new Map(
    instances.data?.map((i) => [i.instanceId, names.get(i.serviceType) ?? i.serviceType]),
  );
  const label = (key: string) =>
    by === "instance" ? (instanceNames.get(key) ?? key) : by === "service" ? (names.get(key) ?? key) : key;
  const set = (k: string, v: string) => {
    const next = new URLSearchParams(params);
    next.set(k, v);
    setParams(next, { replace: true });
  };

  const dayData = perDay.data?.groups.map((g) => ({
    day: g.key,
    calls: g.calls,
    errors: errorsOf(g),
    errorRate: g.calls ? Math.round((errorsOf(g) / g.calls) * 1000) / 10 : 0,
  }));
  const groupData = perGroup.data?.groups.map((g) => ({
    name: label(g.key),
    calls: g.calls,
    errors: errorsOf(g),
    p50: g.p50Ms,
    p95: g.p95Ms,
  }));
  const total = dayData?.reduce((n, d) => n + d.calls, 0) ?? 0;

  return (
    <>
      <PageHeader title="Usage">
        Tool calls through your instances: volume, errors and latency. Days are UTC days.
      </PageHeader>
      <div className="flex flex-wrap gap-3 mb-4">
        <SelectField
          id={`${id}-range`}
          label="Range"
          options={RANGES}
          value={String(days)}
          onValue={(v) => set("range", v)}
        />
        <SelectField
          id={`${id}-by`}
          label="Latency by"
          options={BY}
          value={by}
          onValue={(v) => set("by", v)}
        />
      </div>
      {(perDay.isPending || perGroup.isPending) && <Loading what="usage" />}
      {perDay.isError && <ErrorState error={perDay.error} retry={() => void perDay.refetch()} />}
      {perGroup.isError && <ErrorState error={perGroup.error} retry={() => void perGroup.refetch()} />}
      {dayData && total === 0 && <Empty>No tool calls in this range yet.</Empty>}
      {dayData && groupData && total > 0 && (
        <div className="grid gap-4 lg:grid-cols-2">
          <Chart title="Calls per day (UTC)">
            <BarChart data={dayData}>
              <CartesianGrid strokeDasharray="3 3" opacity={0.3} />
              <XAxis dataKey="day" fontSize={12} />
              <YAxis allowDecimals={false} fontSize={12} width={40} />
              <Tooltip />
              <Legend />
              <Bar dataKey="calls" name="Calls" fill="#4f7be8" />
              <Bar dataKey="errors" name="Errors" fill="#e5484d" />
            </BarChart>
          </Chart>
          <Chart title="Error rate per day (UTC, %)">
            <LineChart data={dayData}>
              <CartesianGrid strokeDasharray="3 3" opacity={0.3} />
              <XAxis dataKey="day" fontSize={12} />
              <YAxis unit="%" fontSize={12} width={48} domain={[0, 100]} />
              <Tooltip />
              <Line type="monotone" dataKey="errorRate" name="Error rate" stroke="#e5484d" dot />
            </LineChart>
          </Chart>
          <Chart title={`Latency p50 / p95 by ${by} (ms)`}>
            <BarChart data={groupData}>
              <CartesianGrid strokeDasharray="3 3" opacity={0.3} />
              <XAxis dataKey="name" fontSize={12} />
              <YAxis unit=" ms" fontSize={12} width={60} />
              <Tooltip />
              <Legend />
              <Bar dataKey="p50" name="p50" fill="#4f7be8" />
              <Bar dataKey="p95" name="p95" fill="#f5a524" />
            </BarChart>
          </Chart>
          <section className="card min-w-0" aria-labelledby={`${id}-t`}>
            <h2 id={`${id}-t`} className="font-semibold mb-2">
              By {by}
            </h2>
            <div className="overflow-x-auto">
              <table className="data" aria-label={`Usage by ${by}`}>
                <thead>
                  <tr>
                    <th scope="col">{BY.find(([v]) => v === by)?.[1]}</th>
                    <th scope="col">Calls</th>
                    <th scope="col">Errors</th>
                    <th scope="col">p50</th>
                    <th scope="col">p95</th>
                  </tr>
                </thead>
                <tbody>
                  {groupData.map((g) => (
                    <tr key={g.name}>
                      <th scope="row" className="text-left font-medium break-all">
                        {g.name}
                      </th>
                      <td>{formatNumber(g.calls)}</td>
                      <td>{formatNumber(g.errors)}</td>
                      <td>{g.p50 === null ? "—" : `${g.p50} ms`}</td>
                      <td>{g.p95 === null ? "—" : `${g.p95} ms`}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </section>
        </div>
      )}
    </>
  );
}

function Chart({ title, children }: { title: string; children: React.ReactElement }) {
  const id = useId();
  return (
    <section className="card min-w-0" aria-labelledby={id}>
      <h2 id={id} className="font-semibold mb-2">
        {title}
      </h2>
      <div className="h-64 w-full min-w-0">
        <ResponsiveContainer width="100%" height="100%">
          {children}
        </ResponsiveContainer>
      </div>
    </section>
  );
}
