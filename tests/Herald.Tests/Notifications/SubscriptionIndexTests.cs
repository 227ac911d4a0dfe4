using System.Text.Json;
using Herald.Notifications;
using Herald.Notifications.Matching;
using Herald.Scopes;

namespace Herald.Tests.Notifications;

public sealed class SubscriptionIndexTests
{
    private static readonly DateTimeOffset Now = new(2031, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("/docs", true)]
    [InlineData("/docs/lib/a.docx", true)]
    [InlineData("/docs2", false)]
    [InlineData("/docs2/a", false)]
    [InlineData("/doc", false)]
    [InlineData("/", false)]
    public void Path_prefixes_match_by_whole_segments(string resourcePath, bool matches)
    {
        var index = Index(Sub("s", "/", prefixes: ["/docs"]));

        Assert.Equal(matches, index.Match(Event("item.changed", "/", resourcePath)).Count == 1);
    }

    [Theory]
    [InlineData("/hr", true)]
    [InlineData("/hr/payroll", true)]
    [InlineData("/", false)]
    [InlineData("/hr2", false)]
    [InlineData("/finance", false)]
    public void A_subscription_sees_events_of_its_scope_and_the_scopes_below(string eventScope, bool matches)
    {
        var index = Index(Sub("s", "/hr"));

        Assert.Equal(matches, index.Match(Event("item.changed", eventScope, "/x")).Count == 1);
    }

    [Fact]
    public void Event_types_filter_and_an_empty_list_means_any_type()
    {
        var index = Index(Sub("typed", "/", types: ["item.added", "item.deleted"]), Sub("any", "/"));

        Assert.Equal(["any", "typed"], Ids(index.Match(Event("item.added", "/", "/x"))));
        Assert.Equal(["any"], Ids(index.Match(Event("custom.thing", "/", "/x"))));
    }

    [Fact]
    public void A_subscription_with_nested_prefixes_matches_an_event_once()
    {
        var index = Index(Sub("s", "/", prefixes: ["/docs", "/docs/lib"]));

        Assert.Single(index.Match(Event("item.changed", "/", "/docs/lib/a")));
    }

    [Fact]
    public void Change_kinds_are_the_last_segment_of_the_type()
    {
        var index = Index(Sub("s", "/", kinds: ["failed"]));

        Assert.Single(index.Match(Event("pipeline.failed", "/", "/p")));
        Assert.Single(index.Match(Event("stage.failed", "/", "/p")));
        Assert.Empty(index.Match(Event("pipeline.succeeded", "/", "/p")));
    }

    [Theory]
    [InlineData(ConditionOperator.Equals, new[] { "main" }, """{"branch":"main"}""", true)]
    [InlineData(ConditionOperator.Equals, new[] { "main" }, """{"branch":"Main"}""", false)]
    [InlineData(ConditionOperator.Equals, new[] { "main" }, """{}""", false)]
    [InlineData(ConditionOperator.NotEquals, new[] { "main" }, """{"branch":"dev"}""", true)]
    [InlineData(ConditionOperator.NotEquals, new[] { "main" }, """{"branch":"main"}""", false)]
    [InlineData(ConditionOperator.NotEquals, new[] { "main" }, """{}""", true)]
    [InlineData(ConditionOperator.In, new[] { "main", "release" }, """{"branch":"release"}""", true)]
    [InlineData(ConditionOperator.In, new[] { "main", "release" }, """{"branch":"dev"}""", false)]
    [InlineData(ConditionOperator.Contains, new[] { "fix" }, """{"branch":"hotfix/1"}""", true)]
    [InlineData(ConditionOperator.Contains, new[] { "urgent" }, """{"branch":["a","urgent"]}""", true)]
    [InlineData(ConditionOperator.Contains, new[] { "urgent" }, """{"branch":["a"]}""", false)]
    [InlineData(ConditionOperator.Equals, new[] { "3" }, """{"branch":3}""", true)]
    [InlineData(ConditionOperator.Equals, new[] { "true" }, """{"branch":true}""", true)]
    public void Conditions_compare_data_values_as_text(ConditionOperator op, string[] values, string data, bool holds)
    {
        using var document = JsonDocument.Parse(data);

        Assert.Equal(holds, EventFilterMatch.Holds(new EventCondition("branch", op, values), document.RootElement));
    }

    [Fact]
    public void Conditions_follow_dotted_paths_into_nested_objects()
    {
        using var document = JsonDocument.Parse("""{"pipeline":{"run":{"branch":"main"}}}""");

        Assert.True(EventFilterMatch.Holds(new EventCondition("pipeline.run.branch", ConditionOperator.Equals, ["main"]), document.RootElement));
        Assert.False(EventFilterMatch.Holds(new EventCondition("pipeline.branch", ConditionOperator.Equals, ["main"]), document.RootElement));
    }

    [Fact]
    public void Replacing_or_removing_a_subscription_takes_it_out_of_its_old_places()
    {
        var index = Index(Sub("s", "/hr", prefixes: ["/a"]));

        index.Upsert(Sub("s", "/finance", prefixes: ["/b"]));
        Assert.Empty(index.Match(Event("item.changed", "/hr", "/a")));
        Assert.Single(index.Match(Event("item.changed", "/finance", "/b")));

        Assert.True(index.Remove("s"));
        Assert.Empty(index.Match(Event("item.changed", "/finance", "/b")));
        Assert.Equal(0, index.Count);
    }

    private static SubscriptionIndex<Subscription> Index(params Subscription[] subscriptions)
    {
        var index = new SubscriptionIndex<Subscription>(s => s.Id, s => s.Scope, s => s.Filter);
        index.Reset(subscriptions);
        return index;
    }

    private static Subscription Sub(string id, string scope, string[]? types = null, string[]? prefixes = null, string[]? kinds = null) =>
        new(id, ScopePath.Parse(scope), Principal.User("alice"), id, new EventFilter(types ?? [], prefixes ?? [], kinds ?? [], []),
            NotificationSchedule.Immediate, false, true, Now, Now);

    private static NotificationEvent Event(string type, string scope, string path) =>
        new("e", type, ScopePath.Parse(scope), path, null, "t", null, null, Now, Now);

    private static string[] Ids(IEnumerable<Subscription> subscriptions) => subscriptions.Select(s => s.Id).Order(StringComparer.Ordinal).ToArray();
}
