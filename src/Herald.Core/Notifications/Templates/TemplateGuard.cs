using System.Runtime.CompilerServices;
using System.Text.Encodings.Web;
using Fluid;
using Fluid.Ast;
using Fluid.Values;

namespace Herald.Notifications.Templates;

/// <summary>
/// Checks a parsed template and rewrites it to render within its bounds: it refuses nesting deeper
/// than the limit (rendering recurses once per level) and filters Herald does not have, makes each
/// statement and each loop iteration a step of the render, builds ranges only up to the list
/// limit, and captures into a bounded writer instead of an unbounded one.
/// </summary>
internal sealed class TemplateGuard(FilterCollection filters, int maxNesting) : AstRewriter
{
    private int _depth;

    /// <summary>Statements and expressions seen, for estimating the template's size.</summary>
    public int Nodes { get; private set; }

    public SortedSet<string> UnknownFilters { get; } = new(StringComparer.Ordinal);

    public override Statement Visit(Statement statement)
    {
        if (statement is null)
        {
            return null!;
        }

        Enter();
        var visited = base.Visit(statement);
        _depth--;
        // Branches stay what their block expects; each branch's statements are steps themselves.
        return visited is ElseIfStatement or ElseStatement or WhenStatement ? visited : new Step(visited);
    }

    public override Expression Visit(Expression expression)
    {
        if (expression is null)
        {
            return null!;
        }

        Enter();
        var visited = base.Visit(expression);
        _depth--;
        return visited;
    }

    protected override Expression VisitFilterExpression(FilterExpression filterExpression)
    {
        if (!filters.TryGetValue(filterExpression.Name, out _))
        {
            UnknownFilters.Add(filterExpression.Name);
        }

        return base.VisitFilterExpression(filterExpression);
    }

    protected override Expression VisitRangeExpression(RangeExpression rangeExpression) =>
        base.VisitRangeExpression(rangeExpression) is RangeExpression range ? new BoundedRange(range.From, range.To) : rangeExpression;

    protected override Statement VisitForStatement(ForStatement forStatement)
    {
        var loop = (ForStatement)base.VisitForStatement(forStatement);
        return new ForStatement([new Iteration(), .. loop.Statements], loop.Identifier, loop.Source, loop.Limit, loop.Offset, loop.Reversed, loop.Else);
    }

    protected override Statement VisitTableRowStatement(TableRowStatement tableRowStatement)
    {
        var loop = (TableRowStatement)base.VisitTableRowStatement(tableRowStatement);
        return new TableRowStatement([new Iteration(), .. loop.Statements], loop.Identifier, loop.Source, loop.Limit, loop.Offset, loop.Cols);
    }

    protected override Statement VisitCaptureStatement(CaptureStatement captureStatement)
    {
        var capture = (CaptureStatement)base.VisitCaptureStatement(captureStatement);
        return new BoundedCapture(capture.Identifier, capture.Statements);
    }

    private void Enter()
    {
        Nodes++;
        if (++_depth > maxNesting || !RuntimeHelpers.TryEnsureSufficientExecutionStack())
        {
            throw new TemplateLimitException($"it nests blocks, brackets, filters and operators more than {maxNesting} deep.");
        }
    }

    /// <summary>A statement that counts as one step of the render before it runs.</summary>
    private sealed class Step(Statement statement) : Statement
    {
        public override ValueTask<Completion> WriteToAsync(TextWriter writer, TextEncoder encoder, TemplateContext context)
        {
            RenderContext.Of(context).Step();
            return statement.WriteToAsync(writer, encoder, context);
        }
    }

    /// <summary>First in a loop's body: each iteration is a step, even of an empty body.</summary>
    private sealed class Iteration : Statement
    {
        public override ValueTask<Completion> WriteToAsync(TextWriter writer, TextEncoder encoder, TemplateContext context)
        {
            RenderContext.Of(context).Step();
            return Normal();
        }
    }

    /// <summary><c>(from..to)</c>, built only when no longer than a list may be.</summary>
    private sealed class BoundedRange(Expression from, Expression to) : Expression
    {
        public override async ValueTask<FluidValue> EvaluateAsync(TemplateContext context)
        {
            var first = Convert.ToInt32((await from.EvaluateAsync(context).ConfigureAwait(false)).ToNumberValue());
            var last = Convert.ToInt32((await to.EvaluateAsync(context).ConfigureAwait(false)).ToNumberValue());
            var count = Math.Max(0, (long)last - first + 1);
            RenderContext.Of(context).CheckItems(count);
            var items = new FluidValue[count];
            for (var i = 0; i < items.Length; i++)
            {
                items[i] = NumberValue.Create(first + i);
            }

            return new ArrayValue(items);
        }
    }

    /// <summary><c>capture</c>, into a writer that stops at the value limit and counts what it builds.</summary>
    private sealed class BoundedCapture(string identifier, IReadOnlyList<Statement> statements) : Statement
    {
        public override async ValueTask<Completion> WriteToAsync(TextWriter writer, TextEncoder encoder, TemplateContext context)
        {
            var render = RenderContext.Of(context);
            var captured = new BoundedWriter(render.MaxValueLength, $"it captures more than {render.MaxValueLength:N0} characters.", render);
            var completion = Completion.Normal;
            foreach (var statement in statements)
            {
                completion = await statement.WriteToAsync(captured, encoder, context).ConfigureAwait(false);
                if (completion != Completion.Normal)
                {
                    break;
                }
            }

            context.SetValue(identifier, new StringValue(captured.Collect(), false));
            return completion;
        }
    }
}
