using Herald.Settings;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Web;

/// <summary>The RFC 9457 problem replies the API's endpoints share: field errors, not found, and
/// any other status with a sentence.</summary>
internal static class ApiResults
{
    public static ValidationProblem Invalid(IReadOnlyList<FieldError> errors, string title) =>
        TypedResults.ValidationProblem(errors.GroupBy(e => e.Field).ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray()), title: title);

    public static ProblemHttpResult Problem(int status, string title, string detail) => TypedResults.Problem(statusCode: status, title: title, detail: detail);

    /// <summary>A use case's refusal as RFC 9457 problem details: 403, 404, 409, or 422 with the
    /// problem of each field under <c>errors</c>. The detail is Core's sentence, word for word.</summary>
    public static ProblemHttpResult Refused(Refusal refusal)
    {
        var (status, title) = refusal.Kind switch
        {
            RefusalKind.NotAllowed => (StatusCodes.Status403Forbidden, "Forbidden"),
            RefusalKind.NotFound => (StatusCodes.Status404NotFound, "Not found"),
            RefusalKind.Conflict => (StatusCodes.Status409Conflict, "Conflict"),
            RefusalKind.Unavailable => (StatusCodes.Status503ServiceUnavailable, "Service unavailable"),
            _ => (StatusCodes.Status422UnprocessableEntity, "Unprocessable content"),
        };
        if (refusal.Errors.Count == 0)
        {
            return TypedResults.Problem(statusCode: status, title: title, detail: refusal.Sentence);
        }

        return TypedResults.Problem(new HttpValidationProblemDetails(
            refusal.Errors.GroupBy(e => e.Field).ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray()))
        {
            Status = status,
            Title = title,
            Detail = refusal.Sentence,
        });
    }
}
