using System.Text.Json;
using Herald.Scopes;
using Herald.Settings;

namespace Herald.Notifications.Templates;

/// <summary>Plausible events for checking and previewing templates.</summary>
public static class SampleEvents
{
    public static readonly NotificationRecipient Recipient = new(
        EmailAddress.Parse("alex.example@example.org"),
        new DirectoryUser("alex", "Alex Example", EmailAddress.Parse("alex.example@example.org"), "Europe/Berlin", "en"));

    public static NotificationEvent For(string type, ScopePath scope, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(type);
        var (title, path, data) = type switch
        {
            _ when type.StartsWith("item.", StringComparison.Ordinal) =>
                ("Travel policy.docx", "/Shared Documents/Policies/Travel policy.docx", """{"size":48213,"version":"3.0","list":"Shared Documents"}"""),
            _ when type.StartsWith("pipeline.", StringComparison.Ordinal) =>
                ("payroll-build #1287", "/pipelines/payroll-build", """{"run":1287,"branch":"main","commit":"9f2c1e7","duration":"00:04:12"}"""),
            _ when type.StartsWith("stage.", StringComparison.Ordinal) =>
                ("Deploy to production", "/pipelines/payroll-build/stages/deploy", """{"run":1287,"stage":"deploy","environment":"production"}"""),
            EventTypes.AccessRequested =>
                ("Payroll site", "/sites/payroll", """{"message":"I joined the payroll team this week.","requested":"edit"}"""),
            EventTypes.QuotaExceeded =>
                ("Payroll site storage", "/sites/payroll", """{"used":"10.4 GB","quota":"10 GB"}"""),
            _ => ("Sample event", "/sample", """{"detail":"sample"}"""),
        };
        return new NotificationEvent(
            "sample-" + type, type, scope, path, "jordan.smith@example.org", title, "https://intranet.example.org" + Uri.EscapeDataString(path).Replace("%2F", "/", StringComparison.Ordinal),
            JsonDocument.Parse(data).RootElement.Clone(), now.AddMinutes(-5), now.AddMinutes(-5));
    }

    public static IReadOnlyList<NotificationEvent> Digest(ScopePath scope, DateTimeOffset now) =>
    [
        For(EventTypes.ItemAdded, scope, now.AddHours(-7)) with { Id = "sample-1", Title = "Expenses 2026.xlsx", ResourcePath = "/Shared Documents/Expenses 2026.xlsx" },
        For(EventTypes.ItemChanged, scope, now.AddHours(-3)),
        For(EventTypes.ItemDeleted, scope, now.AddHours(-1)) with { Id = "sample-3", Title = "Old draft.docx", ResourcePath = "/Shared Documents/Old draft.docx", Link = null },
    ];
}
