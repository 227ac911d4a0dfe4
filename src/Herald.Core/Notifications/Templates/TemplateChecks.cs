using System.Globalization;
using System.Text;
using Fluid;
using Herald.Notifications.Events;
using Herald.Scopes;
using Microsoft.Extensions.Options;

namespace Herald.Notifications.Templates;

/// <summary>The latest events a template applies to: the real data it is checked with before it is saved.</summary>
public interface IRecentEvents
{
    /// <summary>At most <paramref name="max"/> of the latest events in <paramref name="scope"/> and
    /// the scopes below it, newest first: of <paramref name="type"/>, or of any type when it is null.</summary>
    Task<IReadOnlyList<NotificationEvent>> LatestAsync(ScopePath scope, string? type, int max, CancellationToken cancellationToken);
}

/// <summary>
/// What a template must pass before it is saved, and how an unsaved one is previewed. Each of
/// subject, text and HTML must be within its source length and compile (syntax with line and
/// column, known filters, nesting), then the template must render within its bounds against a
/// sample event (a sample digest for <c>digest</c>) and against the scope's latest real events
/// of the type, so that a template dividing by a field that some events have as 0 is refused
/// with that event named. Nothing compiled here is kept in the compiler's cache.
/// </summary>
public sealed class TemplateChecks(
    TemplateCompiler compiler, TemplateRenderer renderer, IRecentEvents recent, IOptions<NotificationTemplateOptions> options, TimeProvider time)
{
    private static readonly Uri SampleUnsubscribe = new("https://herald.example.org/unsubscribe/sample");
    private static readonly Uri SampleManage = new("https://herald.example.org/me/manage/sample");

    /// <summary>Every problem of the sources, per field (subject, text, html). With a
    /// <paramref name="scope"/>, its latest events (and below) are rendered too.</summary>
    public async Task<IReadOnlyList<FieldError>> CheckAsync(ScopePath? scope, string type, TemplateSources sources, CancellationToken cancellationToken)
    {
        var (template, errors) = Compile(scope, type, sources);
        if (template is null)
        {
            return errors;
        }

        var digest = type == DefaultTemplates.Digest;
        var now = time.GetUtcNow();
        if (await FailureAsync(template, Sample(type, null, scope ?? ScopePath.Root, now)).ConfigureAwait(false) is { } sample)
        {
            return [Error(sample, $"Rendering a sample {(digest ? "digest" : "event")} failed")];
        }

        if (scope is not { } saved || options.Value.SaveCheckEvents == 0)
        {
            return [];
        }

        var events = await recent.LatestAsync(saved, digest ? null : type, options.Value.SaveCheckEvents, cancellationToken).ConfigureAwait(false);
        if (digest)
        {
            return events.Count > 0 && await FailureAsync(template, Digest(events, now)).ConfigureAwait(false) is { } failure
                ? [Error(failure, $"Rendering a digest of the latest {events.Count} events of {saved} and below failed")]
                : [];
        }

        foreach (var e in events)
        {
            if (await FailureAsync(template, Event(e)).ConfigureAwait(false) is { } failure)
            {
                return [Error(failure, $"Rendering event '{e.Id}' ({e.Type} in {e.Scope}, received {e.ReceivedAt.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)} UTC) failed")];
            }
        }

        return [];
    }

    /// <summary>The sources rendered for a sample event with the given values over it.</summary>
    public async Task<(RenderedNotification? Rendered, IReadOnlyList<FieldError> Errors)> PreviewAsync(
        ScopePath scope, string type, TemplateSources sources, PreviewEvent? overrides)
    {
        var (template, errors) = Compile(scope, type, sources);
        errors = [.. errors, .. PreviewErrors(overrides)];
        if (template is null || errors.Count > 0)
        {
            return (null, errors);
        }

        try
        {
            return (await renderer.RenderAsync(template, Sample(type, overrides, scope, time.GetUtcNow())).ConfigureAwait(false), []);
        }
        catch (TemplateFailedException failure)
        {
            return (null, [Error(failure, "Rendering failed")]);
        }
    }

    /// <summary>The parts compiled (not kept), or every part's problem.</summary>
    private (CompiledTemplate? Template, IReadOnlyList<FieldError> Errors) Compile(ScopePath? scope, string type, TemplateSources sources)
    {
        ArgumentNullException.ThrowIfNull(sources);
        var errors = new List<FieldError>();
        var subject = Part("subject", sources.Subject, required: true, TemplateService.MaxSubjectSourceLength);
        var text = Part("text", sources.Text, required: true, TemplateService.MaxBodySourceLength);
        var html = Part("html", sources.Html, required: false, TemplateService.MaxBodySourceLength);
        return errors.Count > 0 ? (null, errors) : (new CompiledTemplate(scope, type, subject!, text!, html), []);

        IFluidTemplate? Part(string field, string? source, bool required, int maxLength)
        {
            if (string.IsNullOrWhiteSpace(source))
            {
                if (required)
                {
                    errors.Add(new(field, $"A {field} template is required."));
                }
            }
            else if (source.Length > maxLength)
            {
                errors.Add(new(field, $"The {field} template is longer than {maxLength:N0} characters."));
            }
            else if (compiler.TryCompile(source, out var template, out var error))
            {
                return template;
            }
            else
            {
                errors.Add(new(field, error));
            }

            return null;
        }
    }

    private async Task<TemplateFailedException?> FailureAsync(CompiledTemplate template, Action<TemplateContext> model)
    {
        try
        {
            await renderer.RenderAsync(template, model).ConfigureAwait(false);
            return null;
        }
        catch (TemplateFailedException failure)
        {
            return failure;
        }
    }

    private static FieldError Error(TemplateFailedException failure, string what) =>
        new(TemplatePartNames.NameOf(failure.Part), $"{what}: {failure.Reason}");

    /// <summary>A preview's values are bounded as a real event's are (its data at most 64 KiB).</summary>
    private static IEnumerable<FieldError> PreviewErrors(PreviewEvent? overrides)
    {
        if (overrides is null)
        {
            yield break;
        }

        foreach (var (field, value, max) in new[]
        {
            ("event.id", overrides.Id, Events.EventId.MaxLength),
            ("event.title", overrides.Title, EventLimits.MaxTitleLength),
            ("event.resource_path", overrides.ResourcePath, EventLimits.MaxPathLength),
            ("event.actor", overrides.Actor, EventLimits.MaxActorLength),
            ("event.link", overrides.Link, EventLimits.MaxLinkLength),
        })
        {
            if (value?.Length > max)
            {
                yield return new(field, $"{field} is longer than {max:N0} characters.");
            }
        }

        if (overrides.Data is { } data && Encoding.UTF8.GetByteCount(data.GetRawText()) > EventLimits.MaxDataBytes)
        {
            yield return new("event.data", $"event.data is larger than {EventLimits.MaxDataBytes / 1024} KiB.");
        }
    }

    private static Action<TemplateContext> Sample(string type, PreviewEvent? overrides, ScopePath scope, DateTimeOffset now)
    {
        if (type == DefaultTemplates.Digest)
        {
            return Digest(SampleEvents.Digest(scope, now), now);
        }

        var sample = SampleEvents.For(type, scope, now);
        if (overrides is not null)
        {
            sample = sample with
            {
                Id = overrides.Id ?? sample.Id,
                Title = overrides.Title ?? sample.Title,
                ResourcePath = overrides.ResourcePath ?? sample.ResourcePath,
                Actor = overrides.Actor ?? sample.Actor,
                Link = overrides.Link ?? sample.Link,
                Data = overrides.Data ?? sample.Data,
                OccurredAt = overrides.Time ?? sample.OccurredAt,
            };
        }

        return Event(sample);
    }

    /// <summary>The event as the sample recipient would get it.</summary>
    private static Action<TemplateContext> Event(NotificationEvent notificationEvent)
    {
        var recipient = SampleEvents.Recipient;
        var zone = TemplateModel.ZoneOf(recipient);
        return context =>
        {
            TemplateModel.SetEvent(context, notificationEvent, zone);
            NotificationTemplates.Common(context, recipient, zone, "the alert \"Shared Documents\"", SampleUnsubscribe, SampleManage);
        };
    }

    /// <summary>A daily digest of the events for the sample recipient.</summary>
    private static Action<TemplateContext> Digest(IReadOnlyList<NotificationEvent> events, DateTimeOffset now)
    {
        var recipient = SampleEvents.Recipient;
        var zone = TemplateModel.ZoneOf(recipient);
        var window = new DigestWindow(now.AddDays(-1), now, NotificationFrequency.Daily);
        return context =>
        {
            TemplateModel.SetDigest(context, "Shared Documents", events, window, zone);
            NotificationTemplates.Common(context, recipient, zone, "the alert \"Shared Documents\"", SampleUnsubscribe, SampleManage);
        };
    }
}
