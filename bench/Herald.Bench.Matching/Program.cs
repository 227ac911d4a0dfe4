using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Herald.Notifications;
using Herald.Notifications.Matching;
using Herald.Scopes;

// bash bench/run.sh matching [subscriptions] [events] [seed]: builds a SubscriptionIndex of
// (default) 1,000,000 subscriptions spread over 1,111 scopes (/, 10 organisations, 100 sites
// below them, 1,000 projects below those), 29 event types and path prefixes up to three segments
// deep, then matches (default) 100,000 random events and prints the matching time per event.
var subscriptionCount = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1_000_000;
var eventCount = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 100_000;
var seed = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 42;
var random = new Random(seed);

var scopes = new List<ScopePath> { ScopePath.Root };
for (var o = 0; o < 10; o++)
{
    scopes.Add(ScopePath.Parse($"/org{o}"));
    for (var s = 0; s < 10; s++)
    {
        scopes.Add(ScopePath.Parse($"/org{o}/site{s}"));
        for (var p = 0; p < 10; p++)
        {
            scopes.Add(ScopePath.Parse($"/org{o}/site{s}/project{p}"));
        }
    }
}

var types = EventTypes.BuiltIn.Concat(Enumerable.Range(0, 20).Select(i => $"custom.kind{i}.changed")).ToArray();
var kinds = new[] { "added", "changed", "deleted", "failed", "succeeded" };
string Segment(int depth) => depth switch
{
    0 => $"lib{random.Next(50)}",
    1 => $"folder{random.Next(20)}",
    _ => $"doc{random.Next(100)}.docx",
};
string Path(int depth) => "/" + string.Join('/', Enumerable.Range(0, depth).Select(Segment));

var now = DateTimeOffset.UnixEpoch;
var index = new SubscriptionIndex<Subscription>(s => s.Id, s => s.Scope, s => s.Filter);
var build = Stopwatch.StartNew();
for (var i = 0; i < subscriptionCount; i++)
{
    // 70% filter on one or two types, 80% on a path prefix one to three segments deep, 20% on a
    // change kind, 20% on a condition on the data.
    var typeFilter = random.NextDouble() < 0.7
        ? Enumerable.Range(0, random.Next(1, 3)).Select(_ => types[random.Next(types.Length)]).Distinct().ToArray()
        : [];
    var prefixes = random.NextDouble() < 0.8 ? new[] { Path(random.Next(1, 4)) } : [];
    var changeKinds = random.NextDouble() < 0.2 ? new[] { kinds[random.Next(kinds.Length)] } : [];
    var conditions = random.NextDouble() < 0.2
        ? new[] { new EventCondition("status", ConditionOperator.In, ["approved", "rejected"]) }
        : [];
    index.Upsert(new Subscription(
        $"s{i}", scopes[random.Next(scopes.Count)], Principal.User($"u{random.Next(100_000)}"), "bench",
        new EventFilter(typeFilter, prefixes, changeKinds, conditions), NotificationSchedule.Immediate, false, true, now, now));
}

build.Stop();
GC.Collect();
var memory = GC.GetTotalMemory(forceFullCollection: true);

using var approved = JsonDocument.Parse("""{"status":"approved","size":12}""");
using var draft = JsonDocument.Parse("""{"status":"draft"}""");
var events = Enumerable.Range(0, eventCount).Select(i => new NotificationEvent(
    $"e{i}", types[random.Next(types.Length)], scopes[random.Next(scopes.Count)], Path(3), "u1", "title", null,
    (i % 2 == 0 ? approved : draft).RootElement, now, now)).ToArray();

// Warm-up (JIT, caches), not measured.
foreach (var e in events.Take(10_000))
{
    index.Match(e);
}

var ticks = new long[events.Length];
long matched = 0;
for (var i = 0; i < events.Length; i++)
{
    var start = Stopwatch.GetTimestamp();
    matched += index.Match(events[i]).Count;
    ticks[i] = Stopwatch.GetTimestamp() - start;
}

Array.Sort(ticks);
double Micros(long t) => t * 1_000_000.0 / Stopwatch.Frequency;
double Percentile(double p) => Micros(ticks[Math.Min(ticks.Length - 1, (int)Math.Ceiling(p * ticks.Length) - 1)]);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""
    Subscription index: {subscriptionCount:N0} subscriptions over {scopes.Count:N0} scopes and {types.Length} types (seed {seed})
      built in {build.Elapsed.TotalSeconds:F1} s; managed heap after build {memory / 1024.0 / 1024.0:F0} MiB
      {eventCount:N0} events matched, {matched / (double)eventCount:F1} matching subscriptions per event on average
      matching time per event: p50 {Percentile(0.50):F1} µs   p99 {Percentile(0.99):F1} µs   max {Micros(ticks[^1]):F1} µs   (target p99 < 1,000 µs)
    """));
