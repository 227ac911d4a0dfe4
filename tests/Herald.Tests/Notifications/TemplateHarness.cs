using System.Text.Json;
using Herald.Notifications;
using Herald.Notifications.Templates;
using Herald.Scopes;
using Herald.Settings;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Herald.Tests.Notifications;

/// <summary>Templates wired as a node wires them, over in-memory stores, with the limits and the
/// clock a test chooses.</summary>
internal sealed class TemplateHarness
{
    public static readonly DateTimeOffset Now = new(2026, 7, 1, 10, 0, 0, TimeSpan.Zero);
    public static readonly Uri Unsubscribe = new("http://127.0.0.1:8025/unsubscribe/token-123");
    public static readonly ScopePath Hr = ScopePath.Parse("/hr");
    public static readonly ScopePath Payroll = ScopePath.Parse("/hr/payroll");

    public TemplateHarness(NotificationTemplateOptions? limits = null, TimeProvider? time = null)
    {
        Limits = limits ?? new NotificationTemplateOptions();
        var options = Options.Create(Limits);
        time ??= new FakeTimeProvider(Now);
        Compiler = new TemplateCompiler(options);
        Renderer = new TemplateRenderer(Compiler, options, time);
        Checks = new TemplateChecks(Compiler, Renderer, Recent, options, time);
        Templates = new NotificationTemplates(Store, Renderer, options, time, Log);
        Service = new TemplateService(Store, null!, Templates, Checks, time);
    }

    public static NotificationRecipient Alice { get; } = new(
        EmailAddress.Parse("alice@example.org"), new DirectoryUser("alice", "Alice Martin", EmailAddress.Parse("alice@example.org"), "Europe/Berlin", "en"));

    public NotificationTemplateOptions Limits { get; }

    public InMemoryTemplateStore Store { get; } = new();

    public InMemoryRecentEvents Recent { get; } = new();

    public ListLogger Log { get; } = new();

    public TemplateCompiler Compiler { get; }

    public TemplateRenderer Renderer { get; }

    public TemplateChecks Checks { get; }

    public NotificationTemplates Templates { get; }

    public TemplateService Service { get; }

    public static NotificationEvent Event(string type, ScopePath? scope = null, string title = "Travel policy.docx", string? data = null, string id = "e1") => new(
        id, type, scope ?? Payroll, "/Shared Documents/Travel policy.docx", "bob@example.org", title, "https://intranet.example.org/docs/travel?x=1&y=2",
        data is null ? null : JsonDocument.Parse(data).RootElement.Clone(), Now, Now);

    /// <summary>Stores the scope's own template directly, as if it had been saved before the checks it would fail now.</summary>
    public async Task StoreAsync(ScopePath scope, string type, TemplateSources sources)
    {
        await Store.SaveAsync(new NotificationTemplate(scope, type, sources, Now), CancellationToken.None);
        Templates.Invalidate();
    }

    public ValueTask<RenderedNotification> RenderAsync(NotificationEvent notificationEvent) =>
        Templates.RenderEventAsync(notificationEvent, Alice, "the alert \"Policies\"", Unsubscribe, CancellationToken.None);
}

internal sealed class InMemoryRecentEvents : IRecentEvents
{
    public List<NotificationEvent> Events { get; } = [];

    public Task<IReadOnlyList<NotificationEvent>> LatestAsync(ScopePath scope, string? type, int max, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<NotificationEvent>>(Events
            .Where(e => e.Scope.IsSameOrDescendantOf(scope) && (type is null || e.Type == type))
            .OrderByDescending(e => e.ReceivedAt)
            .Take(max)
            .ToArray());
}

internal sealed class ListLogger : ILogger<NotificationTemplates>
{
    public List<(LogLevel Level, string Message)> Entries { get; } = [];

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Entries.Add((logLevel, formatter(state, exception)));
}
