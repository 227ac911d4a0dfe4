using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Herald.Bench.Load;

/// <summary>The body of <c>POST /api/v1/messages</c>.</summary>
internal sealed record MessageRequest(string Scope, string[] To, string Subject, string Text);

/// <summary>The body of <c>POST /api/v1/messages/batch</c>.</summary>
internal sealed record BatchRequest(MessageRequest[] Messages);

/// <summary>One HTTP request ready to send: its JSON body and how many messages it carries.</summary>
internal readonly record struct ApiRequest(byte[] Body, int Messages);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(MessageRequest))]
[JsonSerializable(typeof(BatchRequest))]
internal sealed partial class BenchJson : JsonSerializerContext;

/// <summary>
/// The benchmark's messages: each to its own recipient, with a subject and a plain-text body of
/// exactly <c>bodyBytes</c> ASCII bytes (lines of 72 characters), numbered so that none is a
/// duplicate of another. Request bodies are serialized ahead of the run, so the load generator
/// spends its CPU on HTTP only; Herald shares the machine's two cores with it.
/// </summary>
internal sealed class Messages(string runName, int bodyBytes)
{
    public MessageRequest Create(int index)
    {
        var header = $"Herald benchmark {runName} message {index}.\n";
        var text = new StringBuilder(bodyBytes);
        text.Append(header.Length <= bodyBytes ? header : header[..bodyBytes]);
        const string filler = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ ";
        var column = 0;
        while (text.Length < bodyBytes)
        {
            if (column == 71 || text.Length == bodyBytes - 1)
            {
                text.Append('\n');
                column = 0;
            }
            else
            {
                text.Append(filler[column % filler.Length]);
                column++;
            }
        }

        return new MessageRequest("/", [$"{runName}-{index}@example.org"], $"Herald benchmark {runName} {index}", text.ToString());
    }

    /// <summary>The requests for messages <paramref name="first"/>…, <paramref name="perRequest"/>
    /// per request (1: the single-message endpoint's body; more: a batch).</summary>
    public ApiRequest[] Requests(int first, int count, int perRequest)
    {
        var requests = new ApiRequest[(count + perRequest - 1) / perRequest];
        for (var request = 0; request < requests.Length; request++)
        {
            var start = first + (request * perRequest);
            var size = Math.Min(perRequest, first + count - start);
            var body = perRequest == 1
                ? JsonSerializer.SerializeToUtf8Bytes(Create(start), BenchJson.Default.MessageRequest)
                : JsonSerializer.SerializeToUtf8Bytes(new BatchRequest([.. Enumerable.Range(start, size).Select(Create)]), BenchJson.Default.BatchRequest);
            requests[request] = new ApiRequest(body, size);
        }

        return requests;
    }

    /// <summary>The single-message requests for messages <paramref name="first"/>…, each body
    /// serialized when it is sent instead of ahead of the run: a million prepared bodies would
    /// take more than a gigabyte of the machine the node runs on.</summary>
    public IReadOnlyList<ApiRequest> RequestsOnDemand(int first, int count) => new OnDemand(this, first, count);

    private sealed class OnDemand(Messages messages, int first, int count) : IReadOnlyList<ApiRequest>
    {
        public int Count => count;

        public ApiRequest this[int index] => (uint)index < (uint)count
            ? new ApiRequest(JsonSerializer.SerializeToUtf8Bytes(messages.Create(first + index), BenchJson.Default.MessageRequest), 1)
            : throw new ArgumentOutOfRangeException(nameof(index));

        public IEnumerator<ApiRequest> GetEnumerator()
        {
            for (var i = 0; i < count; i++)
            {
                yield return this[i];
            }
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
