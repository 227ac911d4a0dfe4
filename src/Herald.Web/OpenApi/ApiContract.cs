using Herald.Access;
using Herald.Delivery;
using Herald.Notifications;
using Herald.Notifications.Events;
using Herald.Notifications.Subscriptions;
using Herald.Notifications.Templates;
using Herald.Outbox;
using Herald.Relay;
using Herald.Settings;
using Herald.Web.Notifications;
using Herald.Web.Outbox;
using Herald.Web.Relay;
using Herald.Web.Settings;

namespace Herald.Web.OpenApi;

/// <summary>
/// What the OpenAPI document says beyond the C# types: which words a string field takes (from
/// Core's own name tables, so the document cannot drift from what the server parses), which
/// fields a request must have (checked against the server by a test), and the examples of the
/// main requests (sent to the server by the same test).
/// </summary>
internal static class ApiContract
{
    /// <summary>Closed vocabularies: the property (by its JSON name) of a type, and its words.</summary>
    public static readonly IReadOnlyList<(Type Owner, string Property, IReadOnlyList<string> Words)> Vocabularies =
    [
        (typeof(SettingsApi.ConnectionRequest), "security", SmtpSecurityNames.Values.Names),
        (typeof(SettingsApi.OutgoingSettingsRequest), "impersonation", ImpersonationPolicyNames.Values.Names),
        (typeof(SettingsApi.OAuthRequest), "provider", OAuthNames.Providers.Names),
        (typeof(SettingsApi.OAuthRequest), "grant", OAuthNames.Grants.Names),
        (typeof(SettingsApi.ConnectionView), "security", SmtpSecurityNames.Values.Names),
        (typeof(SettingsApi.ConnectionView), "trust", ServerTrust.ModeNames.Names),
        (typeof(SettingsApi.OAuthView), "provider", OAuthNames.Providers.Names),
        (typeof(SettingsApi.OAuthView), "grant", OAuthNames.Grants.Names),
        (typeof(SettingsApi.PublicUrlResponse), "source", Enum.GetNames<PublicUrlSource>().Select(s => s.ToLowerInvariant()).ToArray()),
        (typeof(SettingsApi.TestRecipientView), "outcome", Enum.GetNames<RecipientOutcome>()),
        (typeof(SettingsApi.TestEmailView), "failedAt", Enum.GetNames<DeliveryStage>()),
        (typeof(RelayApi.ListenerRequest), "access", RelayAccessModeNames.Values.Names),
        (typeof(RelayApi.ListenerRequest), "auth", RelayAuthModeNames.Values.Names),
        (typeof(RelayApi.ListenerView), "access", RelayAccessModeNames.Values.Names),
        (typeof(RelayApi.ListenerView), "auth", RelayAuthModeNames.Values.Names),
        (typeof(DirectoryApi.GroupRequest), "delivery", GroupDeliveryNames.Values.Names),
        (typeof(DirectoryApi.GroupView), "delivery", GroupDeliveryNames.Values.Names),
        (typeof(DirectoryImport.ImportGroup), "delivery", GroupDeliveryNames.Values.Names),
        (typeof(AccessApi.GrantRequest), "level", AccessLevelNames.Values.Names),
        (typeof(AccessApi.EntryView), "level", AccessLevelNames.Values.Names),
        (typeof(AccessApi.EffectiveView), "level", AccessLevelNames.Values.Names),
        (typeof(SubscriptionRequest), "frequency", NotificationFrequencyNames.Values.Names),
        (typeof(SubscriptionRequest), "day", Weekdays),
        (typeof(SubscriptionsApi.SubscriptionView), "frequency", NotificationFrequencyNames.Values.Names),
        (typeof(SubscriptionsApi.SubscriptionView), "day", Weekdays),
        (typeof(ConditionRequest), "operator", ConditionOperatorNames.Values.Names),
        (typeof(SubscriptionsApi.ConditionView), "operator", ConditionOperatorNames.Values.Names),
        (typeof(TemplatesApi.TemplateView), "origin", TemplateOriginNames.Values.Names),
    ];

    /// <summary>Query parameters with a closed vocabulary, by operation.</summary>
    public static readonly IReadOnlyList<(string OperationId, string Parameter, IReadOnlyList<string> Words)> ParameterVocabularies =
    [
        ("listMessages", "state", RecipientStateNames.Values.Names),
        ("listFailedEvents", "state", ["failed"]),
    ];

    /// <summary>Every type a request body is made of, with the fields without which the server
    /// refuses it (422 naming the field); the others keep their values or take defaults when left
    /// out. (Without this, a positional record would list every constructor parameter.)</summary>
    public static readonly IReadOnlyDictionary<Type, IReadOnlyList<string>> Required = new Dictionary<Type, IReadOnlyList<string>>
    {
        // Recipients may be in to, cc or bcc, and the body in text or html: no single one is required.
        [typeof(SubmitRequest)] = ["scope"],
        [typeof(AttachmentRequest)] = ["fileName"],
        [typeof(OutboxApi.BatchRequest)] = ["messages"],
        [typeof(EventSubmission)] = ["id", "type", "scope", "title"],
        [typeof(EventsApi.EventBatch)] = ["events"],
        [typeof(RuleRequest)] = ["scope", "recipients"],
        [typeof(SubscriptionRequest)] = ["scope", "owner"],
        [typeof(ConditionRequest)] = ["field", "operator"],
        [typeof(AccessApi.GrantRequest)] = ["scope", "principal", "level"],
        [typeof(SettingsApi.TestEmailRequest)] = ["to"],
        [typeof(TemplatesApi.TemplateRequest)] = ["subject", "text"],
        [typeof(DirectoryImport.ImportUser)] = ["id"],
        [typeof(DirectoryImport.ImportGroup)] = ["id"],
        [typeof(DirectoryImport.ImportFile)] = [],
        [typeof(SettingsApi.ConnectionRequest)] = [],
        [typeof(SettingsApi.OutgoingSettingsRequest)] = [],
        [typeof(SettingsApi.OAuthRequest)] = [],
        [typeof(SettingsApi.PublicUrlRequest)] = [],
        [typeof(KerberosChange)] = [],
        [typeof(RelayApi.ListenerRequest)] = [],
        [typeof(RelayApi.AccountRequest)] = [],
        [typeof(DirectoryApi.UserRequest)] = [],
        [typeof(DirectoryApi.GroupRequest)] = [],
        [typeof(TemplatesApi.PreviewRequest)] = [],
        [typeof(TemplatesApi.PreviewEventRequest)] = [],
    };

    private static string[] Weekdays => Enum.GetNames<DayOfWeek>().Select(d => d.ToLowerInvariant()).ToArray();

    /// <summary>Request examples by operation id: the main requests, as a client sends them.</summary>
    public static readonly IReadOnlyDictionary<string, string> Examples = new Dictionary<string, string>
    {
        ["submitMessage"] = """
            {"scope": "/hr", "to": ["alice@example.org"], "subject": "Your leave was approved", "text": "Enjoy your holiday.", "idempotencyKey": "leave-4711"}
            """,
        ["postEvents"] = """
            {"id": "evt-1001", "type": "item.changed", "scope": "/hr", "resourcePath": "/sites/hr/policies/leave.docx", "actor": "bob", "title": "Leave policy", "link": "https://intranet.example.org/sites/hr/policies/leave.docx", "data": {"version": "2.1"}}
            """,
        ["createSubscription"] = """
            {"scope": "/hr", "owner": "user:alice", "name": "Policy changes", "eventTypes": ["item.changed"], "pathPrefixes": ["/sites/hr/policies"], "frequency": "daily", "at": "08:00"}
            """,
        ["createRule"] = """
            {"scope": "/hr", "name": "Failed pipelines", "eventTypes": ["pipeline.failed"], "recipients": ["ops@example.org", "user:alice"]}
            """,
        ["importDirectory"] = """
            {"users": [{"id": "alice", "name": "Alice Martin", "email": "alice@example.org", "timeZone": "Europe/Paris"}], "groups": [{"id": "hr-team", "name": "HR team", "members": ["user:alice"]}]}
            """,
        ["putOutgoingSettings"] = """
            {"connection": "smarthost", "server": "smtp.example.org", "port": 587, "security": "starttls-required", "from": "herald@example.org", "fromName": "Herald"}
            """,
    };

    /// <summary>The directory import as CSV (text/csv), the same people as the JSON example.</summary>
    public const string DirectoryCsvExample = "kind,id,name,email,members\r\nuser,alice,Alice Martin,alice@example.org,\r\ngroup,hr-team,HR team,,user:alice\r\n";
}
