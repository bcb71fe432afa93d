//! The console's two languages: the message catalogue (every UI string, English and
//! Japanese), the choice of language (cookie, else `Accept-Language`), and numbers, money
//! and dates formatted per language.

use conea_shopdata::ProgressNote;
use jiff::tz::TimeZone;
use jiff::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ja,
}

/// The cookie that remembers the chosen language.
pub const LANG_COOKIE: &str = "conea_lang";

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Ja];

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        match code.trim().to_ascii_lowercase().as_str() {
            "en" => Some(Lang::En),
            "ja" => Some(Lang::Ja),
            _ => None,
        }
    }

    /// The language's own name (shown in the switcher).
    pub fn name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Ja => "日本語",
        }
    }

    /// The remembered choice wins; else the first of `Accept-Language` (by quality) that
    /// the console speaks; else English.
    pub fn choose(cookie: Option<&str>, accept_language: Option<&str>) -> Lang {
        if let Some(l) = cookie.and_then(Lang::parse) {
            return l;
        }
        let mut best: Option<(f32, Lang)> = None;
        for part in accept_language.unwrap_or("").split(',') {
            let mut pieces = part.split(';');
            let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q=").map(str::to_owned))
                .and_then(|v| v.parse::<f32>().ok())
                .unwrap_or(1.0);
            let primary = tag.split('-').next().unwrap_or("");
            if let Some(l) = Lang::parse(primary) {
                if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                    best = Some((q, l));
                }
            }
        }
        best.map(|(_, l)| l).unwrap_or(Lang::En)
    }

    pub fn t(self, key: T) -> &'static str {
        match self {
            Lang::En => key.en(),
            Lang::Ja => key.ja(),
        }
    }
}

macro_rules! catalogue {
    ($($key:ident => $en:literal, $ja:literal;)*) => {
        /// Every string the console shows, by key.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum T { $($key),* }

        impl T {
            pub const ALL: &'static [T] = &[$(T::$key),*];

            pub fn en(self) -> &'static str {
                match self { $(T::$key => $en),* }
            }

            pub fn ja(self) -> &'static str {
                match self { $(T::$key => $ja),* }
            }
        }
    };
}

catalogue! {
    AppName => "Conea console", "Conea コンソール";
    SkipToContent => "Skip to content", "本文へ移動";
    MainNav => "Main", "メイン";
    NavOverview => "Overview", "概要";
    NavData => "Data", "データ";
    NavJobs => "Jobs", "ジョブ";
    NavOperations => "Operations", "運用";
    NavSettings => "API keys", "API キー";
    Language => "Language", "言語";
    SignIn => "Sign in", "サインイン";
    SignOut => "Sign out", "サインアウト";
    SignedInAs => "Signed in as", "サインイン中:";
    Email => "E-mail", "メールアドレス";
    Password => "Password", "パスワード";
    BadCredentials => "The e-mail or password is wrong.", "メールアドレスまたはパスワードが正しくありません。";
    TooManyAttempts => "Too many failed sign-ins. Wait a few minutes and try again.", "サインインの失敗が多すぎます。数分待ってから再度お試しください。";
    SignedOut => "You are signed out.", "サインアウトしました。";
    SessionEnded => "Your session ended. Please sign in again.", "セッションが終了しました。もう一度サインインしてください。";
    Period => "Period", "期間";
    From => "From", "開始日";
    To => "To", "終了日";
    Apply => "Apply", "適用";
    ComparedWith => "compared with the previous period", "前期間との比較";
    NetSales => "Net sales", "純売上";
    GrossSales => "Gross sales", "総売上";
    Orders => "Orders", "注文";
    Units => "Units", "点数";
    AverageOrder => "Average order", "平均注文額";
    Refunds => "Refunds", "返金";
    SalesAndOrders => "Daily sales and orders", "日別の売上と注文数";
    ChartLabel => "Bars: net sales per day; line: orders per day (today, not over yet, pale and dashed)", "棒: 日別の純売上、線: 日別の注文数（集計途中の今日は淡色・破線）";
    SoFar => "so far", "途中まで";
    TopProducts => "Top products", "売上上位の商品";
    Product => "Product", "商品";
    Revenue => "Revenue", "売上";
    Share => "Share", "構成比";
    Segments => "Customer segments", "顧客セグメント";
    Segment => "Segment", "セグメント";
    Customers => "Customers", "顧客";
    Cohorts => "Cohorts (first order month)", "コホート（初回注文月）";
    Cohort => "Cohort", "コホート";
    MonthN => "Month", "月";
    NoData => "No data for this period.", "この期間のデータはありません。";
    Currency => "Currency", "通貨";
    Change => "Change", "増減";
    Products => "Products", "商品";
    Search => "Search", "検索";
    Filter => "Filter", "絞り込み";
    CreatedFrom => "Created from", "作成日（から）";
    CreatedTo => "Created to", "作成日（まで）";
    FinancialStatus => "Payment status", "支払い状況";
    Status => "Status", "状態";
    Name => "Name", "名前";
    Total => "Total", "合計";
    Created => "Created", "作成日時";
    Updated => "Updated", "更新日時";
    Shop => "Shop", "ショップ";
    Vendor => "Vendor", "販売元";
    Stock => "Stock", "在庫";
    Variants => "Variants", "バリエーション";
    LineItems => "Line items", "明細";
    Quantity => "Quantity", "数量";
    Price => "Price", "価格";
    Details => "Details", "詳細";
    NextPage => "Next page", "次のページ";
    FirstPage => "First page", "最初のページ";
    ExportCsv => "Export CSV", "CSV をエクスポート";
    Back => "Back", "戻る";
    Kind => "Kind", "種類";
    Progress => "Progress", "進捗";
    Attempt => "Attempt", "試行";
    LastError => "Last error", "直近のエラー";
    Actions => "Actions", "操作";
    Cancel => "Cancel", "キャンセル";
    Retry => "Retry", "再試行";
    AllStates => "All states", "すべての状態";
    NoJobs => "No jobs.", "ジョブはありません。";
    JobCancelled => "The job was cancelled.", "ジョブをキャンセルしました。";
    JobRetried => "The job will run again.", "ジョブを再実行します。";
    ConfirmCancel => "Cancel this job?", "このジョブをキャンセルしますか？";
    ConfirmRevoke => "Revoke this key? Clients using it stop working at once.", "このキーを失効させますか？使用中のクライアントはすぐに動作しなくなります。";
    Health => "Health", "稼働状況";
    Component => "Component", "構成要素";
    Detail => "Detail", "内容";
    WhatToDo => "What to do", "対処";
    Database => "Database", "データベース";
    Redis => "Redis", "Redis";
    Replica => "Read replica", "リードレプリカ";
    Pool => "Connection pool", "接続プール";
    Queue => "Job queue", "ジョブキュー";
    OldestJob => "Oldest runnable job", "最も古い実行待ちジョブ";
    AiProviders => "AI providers", "AI プロバイダー";
    RateLimiter => "Rate limiter", "レート制限";
    Findings => "Findings", "検出事項";
    NoFindings => "Nothing needs attention.", "対応が必要な事項はありません。";
    StatusOk => "OK", "正常";
    StatusDegraded => "Degraded", "低下";
    StatusDown => "Down", "停止";
    StatusDisabled => "Not configured", "未設定";
    FixDatabase => "Check that the database is reachable from this server and run `conea migrate`; see docs/operations.md.", "このサーバーからデータベースに接続できるか確認し、`conea migrate` を実行してください（docs/operations.md 参照）。";
    FixRedis => "Rate limits fall back to per-replica memory. Check Redis (REDIS_URL) and its logs.", "レート制限はレプリカごとのメモリで継続しています。Redis（REDIS_URL）とそのログを確認してください。";
    FixReplica => "Reads go to the primary while the replica lags. Check the standby's replication.", "レプリカの遅延中は読み取りをプライマリで行います。スタンバイのレプリケーションを確認してください。";
    FixPool => "The pool is exhausted: raise CONEA_DB_MAX_CONNECTIONS or look for slow statements.", "接続プールが枯渇しています。CONEA_DB_MAX_CONNECTIONS を増やすか、遅いクエリを調べてください。";
    FixQueue => "Jobs wait too long: start more workers (`conea worker`) or raise CONEA_WORKER_CONCURRENCY.", "ジョブの待ち時間が長すぎます。ワーカー（`conea worker`）を増やすか CONEA_WORKER_CONCURRENCY を上げてください。";
    FixAi => "An AI provider's circuit is open or its key is refused: check its key and status page; requests fall back to the next provider.", "AI プロバイダーの回路が開いているかキーが拒否されています。キーと提供元の状況を確認してください（リクエストは次のプロバイダーに切り替わります）。";
    Memory => "Memory", "メモリ";
    OpenFiles => "Open files", "オープンファイル";
    Cpu => "CPU", "CPU";
    SlowStatements => "Slow statements", "遅いクエリ";
    Escalation => "Incident notifications", "インシデント通知";
    ShopifyTokens => "Shopify access", "Shopify のアクセス";
    SinceStart => "since start", "起動以降";
    Lag => "lag", "遅延";
    Allowed => "allowed", "許可";
    Limited => "limited", "制限";
    Fallbacks => "fallbacks", "フォールバック";
    Cores => "cores", "コア";
    Threshold => "threshold", "しきい値";
    WorkersBusy => "workers busy", "ワーカー稼働率";
    NoMemoryLimit => "no container limit", "コンテナの上限なし";
    Idle => "idle", "アイドル";
    Statement => "Statement", "クエリ";
    Duration => "Duration", "所要時間";
    FixMemory => "Memory is near the container's limit (the guide's OOMKilled): look for a leak (conea_runtime_alive_tasks that only grows), lower CONEA_DB_MAX_CONNECTIONS or import part sizes, or raise the limit.", "メモリがコンテナの上限に近づいています（ガイドの OOMKilled）。リーク（増え続ける conea_runtime_alive_tasks）を確認し、CONEA_DB_MAX_CONNECTIONS や取り込みの分割サイズを下げるか、上限を引き上げてください。";
    FixFiles => "Open files are near the limit (the guide's EMFILE, too many open files): raise the limit (ulimit -n, the container's nofile) or look for connections that are never closed.", "オープンファイル数が上限に近づいています（ガイドの EMFILE）。上限（ulimit -n、コンテナの nofile）を上げるか、閉じられていない接続を確認してください。";
    FixCpu => "CPU is above the threshold: the busiest routes and job kinds are in /metrics (conea_http_cpu_seconds, conea_job_cpu_seconds); take a profile with `conea diagnose --profile 30s`, or add replicas.", "CPU がしきい値を超えています。負荷の高いルートとジョブ種別は /metrics（conea_http_cpu_seconds、conea_job_cpu_seconds）で確認でき、`conea diagnose --profile 30s` でプロファイルを取得できます。レプリカの追加も検討してください。";
    FixSlow => "Statements took longer than CONEA_SLOW_QUERY_MS (listed below; the server log has each with its request id): `conea db slow` shows PostgreSQL's slowest (pg_stat_statements); check indexes and the database's load.", "CONEA_SLOW_QUERY_MS より遅いクエリがありました（下に一覧、サーバーログにリクエスト ID 付きで記録）。`conea db slow` で PostgreSQL の遅いクエリ（pg_stat_statements）を確認し、インデックスとデータベースの負荷を調べてください。";
    FixEscalation => "Incidents notify nobody: set an escalation policy (CONEA_ESCALATION_CONFIG) with channels; see docs/operations.md.", "インシデントの通知先がありません。通知チャネルを含むエスカレーションポリシー（CONEA_ESCALATION_CONFIG）を設定してください（docs/operations.md 参照）。";
    FixShopifyTokens => "Shopify refuses the access token of these shops: connect them again on the Shopify page.", "Shopify がこれらのショップのアクセストークンを拒否しています。Shopify 連携のページから再接続してください。";
    FixLimiter => "Redis failed: decisions are made in memory on each replica until it answers again.", "Redis の障害中は各レプリカのメモリで判定しています。復旧を待つか Redis を確認してください。";
    Keys => "API keys", "API キー";
    NewKey => "Create a key", "キーを作成";
    KeyName => "Key name", "キー名";
    Permissions => "Permissions", "権限";
    Create => "Create", "作成";
    Prefix => "Prefix", "プレフィックス";
    LastUsed => "Last used", "最終使用";
    Revoked => "Revoked", "失効済み";
    Active => "Active", "有効";
    Revoke => "Revoke", "失効";
    KeyCreated => "Key created. Copy the secret now: it is not shown again.", "キーを作成しました。シークレットは再表示されないので今すぐコピーしてください。";
    Secret => "Secret", "シークレット";
    Copy => "Copy", "コピー";
    KeyRevoked => "The key was revoked.", "キーを失効させました。";
    NoKeys => "No keys yet.", "キーはまだありません。";
    Never => "never", "なし";
    ErrorTitle => "Something went wrong", "エラーが発生しました";
    Forbidden => "You do not have the permission for this.", "この操作を行う権限がありません。";
    CsrfRefused => "The form was stale or forged and was refused. Reload the page and try again.", "フォームが古いか偽造されたため拒否しました。ページを再読み込みしてやり直してください。";
    NotFound => "Not found.", "見つかりません。";
    RequestId => "Request id", "リクエスト ID";
    NavIncidents => "Incidents", "インシデント";
    Severity => "Severity", "重大度";
    Title => "Title", "件名";
    Opened => "Opened", "発生日時";
    Acknowledge => "Acknowledge", "確認";
    Resolve => "Resolve", "解決";
    NoIncidents => "No incidents.", "インシデントはありません。";
    IncidentAcknowledged => "The incident was acknowledged.", "インシデントを確認済みにしました。";
    IncidentResolved => "The incident was resolved.", "インシデントを解決済みにしました。";
    NavShopify => "Shopify", "Shopify 連携";
    Domain => "Shop domain", "ショップのドメイン";
    LastSync => "Last sync", "最終同期";
    Webhooks => "Webhooks (received / refused)", "Webhook（受信 / 拒否）";
    SyncNow => "Sync now", "今すぐ同期";
    SyncQueued => "A sync was queued; follow it on the Jobs page.", "同期をキューに追加しました。ジョブのページで進捗を確認できます。";
    NoShops => "No Shopify shop is connected yet.", "接続済みの Shopify ショップはまだありません。";
    ConnectShop => "Connect a shop", "ショップを接続";
    ShopDomainField => "The shop's domain (name.myshopify.com)", "ショップのドメイン（name.myshopify.com）";
    ConnectButton => "Connect", "接続";
    ConnectIntro => "Shopify asks you to approve the Conea app for this shop; once you approve, the shop is connected and its first sync starts.", "Shopify でこのショップへの Conea アプリのインストールを承認します。承認するとショップが接続され、最初の同期が始まります。";
    ContinueToShopify => "Continue to Shopify", "Shopify に進む";
    ShopDomainInvalid => "That is not a shop's permanent domain: enter name.myshopify.com.", "ショップの恒久ドメインではありません。name.myshopify.com の形式で入力してください。";
    ShopifyOauthOff => "Connecting shops through Shopify is not configured on this server (SHOPIFY_API_KEY, SHOPIFY_API_SECRET and CONEA_PUBLIC_URL). A shop can still be connected with an Admin API token: POST /v1/integrations/shopify/shops.", "このサーバーでは Shopify 経由のショップ接続が設定されていません（SHOPIFY_API_KEY、SHOPIFY_API_SECRET、CONEA_PUBLIC_URL）。Admin API トークンでの接続は可能です: POST /v1/integrations/shopify/shops";
    Escalate => "Escalate", "エスカレーション";
    ConfirmEscalate => "Escalate now? The next person in the escalation chain is paged at once.", "今すぐエスカレーションしますか？エスカレーションチェーンの次の担当者にすぐ連絡します。";
    IncidentEscalated => "The incident was escalated.", "インシデントをエスカレーションしました。";
    Note => "Note", "メモ";
    AddNote => "Add a note", "メモを追加";
    NoteAdded => "The note was added to the timeline.", "タイムラインにメモを追加しました。";
    Timeline => "Timeline", "タイムライン";
    Summary => "Summary", "概要説明";
    Acknowledged => "Acknowledged", "確認済み";
    Resolved => "Resolved", "解決済み";
    PostmortemDraft => "Postmortem draft", "ポストモーテム草案";
    PostmortemHint => "Markdown generated from the timeline; copy it into your postmortem document.", "タイムラインから生成した Markdown です。ポストモーテム文書にコピーしてください。";
    EntryDetected => "Detected", "検知";
    EntrySeverityChanged => "Severity changed", "重大度の変更";
    EntryNotified => "Notified", "通知";
    EntryPaged => "Paged", "呼び出し";
    EntryCommander => "Commander summoned", "指揮者の招集";
    EntryWarRoom => "War room opened", "対策室の開設";
    EntryStakeholders => "Stakeholders notified", "関係者への通知";
    EntryStepSkipped => "Step skipped", "手順の省略";
    NavReports => "Reports", "レポート";
    Report => "Report", "レポート";
    RunReport => "Run the report", "レポートを実行";
    RepSalesOverTime => "Sales over time", "売上推移";
    RepProductPerformance => "Product performance", "商品別実績";
    RepRefunds => "Refunds and cancellations", "返金とキャンセル";
    RepHourWeekday => "Sales by hour and weekday", "時間帯・曜日別売上";
    RepRepeat => "Repeat purchase", "リピート購入";
    RepInventory => "Inventory", "在庫";
    RepDigest => "Digest", "ダイジェスト";
    Granularity => "Granularity", "集計単位";
    Day => "Day", "日";
    Week => "Week", "週";
    Compare => "Compare with", "比較対象";
    PreviousPeriod => "Previous period", "前期間";
    PreviousYear => "Previous year", "前年";
    TimeZone => "Time zone", "タイムゾーン";
    Totals => "Totals", "合計値";
    Schedules => "Schedules", "スケジュール";
    NoSchedules => "No schedules yet.", "スケジュールはまだありません。";
    NewSchedule => "Create a schedule", "スケジュールを作成";
    EditSchedule => "Edit the schedule", "スケジュールを編集";
    Cron => "Cron expression", "cron 式";
    Channel => "Channel", "配信先の種類";
    Target => "Destination", "配信先";
    NextRun => "Next runs", "次回の実行";
    Enabled => "Enabled", "有効";
    Disabled => "Disabled", "無効";
    Enable => "Enable", "有効にする";
    Disable => "Disable", "無効にする";
    Edit => "Edit", "編集";
    Save => "Save", "保存";
    TzIntro => "The console shows dates and counts days in this time zone.", "コンソールは日付をこのタイムゾーンで表示し、日の区切りもこのタイムゾーンに従います。";
    TzCurrent => "Now", "現在";
    TzAutomatic => "Automatic (this browser's time zone)", "自動（このブラウザーのタイムゾーン）";
    TzFromChoice => "chosen here", "ここで選択";
    TzFromBrowser => "this browser's", "このブラウザーのもの";
    TzFromDefault => "the default (the browser told none)", "既定値（ブラウザーから取得できませんでした）";
    ScheduleCreated => "Schedule created. Copy the webhook signing secret now: it is not shown again.", "スケジュールを作成しました。Webhook の署名シークレットは再表示されないので今すぐコピーしてください。";
    WebhookSecret => "Webhook signing secret", "Webhook 署名シークレット";
    ScheduleUpdated => "The schedule was saved.", "スケジュールを保存しました。";
    ImportData => "Import data", "データのインポート";
    ImportFile => "File (NDJSON or CSV)", "ファイル（NDJSON または CSV）";
    ImportHint => "One Shopify-shaped JSON object per line (.ndjson), or CSV with the columns in the README. The import runs as a job; this page follows it.", "1 行に Shopify 形式の JSON オブジェクト 1 件（.ndjson）、または README の列の CSV。インポートはジョブとして実行され、このページで進捗を確認できます。";
    Import => "Import", "インポート";
    ImportAnother => "Import another file", "別のファイルをインポート";
    RowsRead => "Rows read", "読み込んだ行";
    Inserted => "Added", "追加";
    UpdatedRows => "Updated", "更新";
    Rejected => "Rejected", "拒否";
    NavMembers => "Members", "メンバー";
    Role => "Role", "ロール";
    RoleOwner => "Owner", "オーナー";
    RoleAdmin => "Administrator", "管理者";
    RoleMember => "Member", "メンバー";
    RoleViewer => "Viewer", "閲覧者";
    ChangeRole => "Change role", "ロールを変更";
    Remove => "Remove", "削除";
    ConfirmRemove => "Remove this member from the organization? Their console sessions end at once.", "このメンバーを組織から削除しますか？コンソールのセッションはすぐに終了します。";
    RoleChanged => "The role was changed.", "ロールを変更しました。";
    MemberRemoved => "The member was removed; their sessions have ended.", "メンバーを削除しました。セッションは終了しています。";
    You => "you", "自分";
    NavAsk => "Ask", "AI に質問";
    AskIntro => "Ask about your shop's figures. The analyst answers from the reports and records it reads for you (with your permissions), and every figure it used is shown beside the answer.", "ショップの数値について質問できます。アナリストはあなたの権限でレポートとデータを読んで回答し、使った数値はすべて回答の横に表示されます。";
    Question => "Question", "質問";
    QuestionHint => "How did sales develop over the last 30 days?", "直近 30 日の売上はどう推移しましたか？";
    AskButton => "Ask", "質問する";
    AnswerTitle => "Answer", "回答";
    Grounded => "Every number in the answer comes from a tool result", "回答中の数値はすべてツールの結果に基づいています";
    Ungrounded => "Numbers not found in any tool result", "ツールの結果にない数値";
    Evidence => "What the answer rests on", "回答の根拠";
    ToolCalls => "Tool calls", "ツール呼び出し";
    NoToolCalls => "The model called no tool.", "モデルはツールを呼び出しませんでした。";
    Figures => "Figures", "数値データ";
    StateOpen => "Open", "未対応";
    SevCritical => "Critical", "緊急";
    SevHigh => "High", "高";
    SevMedium => "Medium", "中";
    SevLow => "Low", "低";
    Discounts => "Discounts", "値引き";
    RefundRate => "Refund rate", "返金率";
    RefundedOrders => "Refunded orders", "返金された注文";
    Cancelled => "Cancelled", "キャンセル";
    SegChampions => "Champions", "優良顧客";
    SegLoyal => "Loyal", "ロイヤル顧客";
    SegNew => "New", "新規顧客";
    SegPromising => "Promising", "有望顧客";
    SegAtRisk => "At risk", "離反リスク";
    SegHibernating => "Hibernating", "休眠顧客";
    JobAvailable => "Waiting", "待機中";
    JobScheduled => "Scheduled", "予約済み";
    JobRunning => "Running", "実行中";
    JobRetryable => "Will retry", "再試行待ち";
    JobCompleted => "Completed", "完了";
    JobDiscarded => "Failed", "失敗";
    JobStateCancelled => "Cancelled", "キャンセル済み";
    RecentThreads => "Recent threads", "最近のスレッド";
    NoThreads => "No threads yet: each question starts one.", "スレッドはまだありません。質問するたびに作成されます。";
    QuestionsCount => "questions", "件の質問";
    ContinueThread => "Continue this thread with a follow-up question", "このスレッドで続けて質問する";
    FollowUp => "Follow-up question", "追加の質問";
    Thread => "Thread", "スレッド";
    Answering => "Answering…", "回答しています…";
    NavLimits => "Budgets and limits", "予算と制限";
    AiBudget => "AI budget", "AI 予算";
    MonthlyTokens => "Tokens per month", "月間トークン数";
    MonthlyTokensHint => "Input and output tokens per calendar month (UTC); empty removes the budget.", "暦月（UTC）あたりの入力・出力トークン数。空欄にすると予算を解除します。";
    UsedThisMonth => "Used this month", "今月の使用量";
    NoBudget => "No budget", "予算なし";
    BudgetSaved => "The AI budget was saved.", "AI 予算を保存しました。";
    RateLimits => "Rate limits", "レート制限の設定";
    OrgLimit => "This organization's limit", "この組織の制限";
    PerMinute => "Requests per minute", "1 分あたりのリクエスト数";
    Burst => "Burst", "バースト";
    BurstHint => "Requests a full bucket allows at once; empty: the same as per minute.", "満杯のバケットで一度に許可するリクエスト数。空欄は 1 分あたりと同じです。";
    LimitSource => "Source", "設定元";
    SourceDefault => "Default", "既定値";
    SourceOverride => "Set for this organization", "この組織の個別設定";
    KeyLimits => "API key limits", "API キーごとの制限";
    ApiKey => "API key", "API キー";
    SetLimit => "Set the limit", "制限を設定";
    LimitSaved => "The rate limit was saved; every replica applies it within seconds.", "レート制限を保存しました。数秒以内にすべてのレプリカに反映されます。";
    NoKeyLimits => "No key has its own limit.", "個別の制限を持つキーはありません。";
    DateFieldHint => "Date as MM/DD/YYYY", "日付（YYYY/MM/DD 形式）";
    ShopActive => "Connected", "接続中";
    ShopUnauthorized => "Access revoked: connect the shop again", "アクセス権が失効しました。ショップを再接続してください";
    ShopUninstalled => "App uninstalled", "アプリがアンインストールされました";
    ShopDisconnected => "Disconnected", "切断済み";
    PayPaid => "Paid", "支払い済み";
    PayPending => "Pending", "支払い待ち";
    PayAuthorized => "Authorized", "オーソリ済み";
    PayPartiallyPaid => "Partially paid", "一部支払い済み";
    PayRefunded => "Refunded", "返金済み";
    PayPartiallyRefunded => "Partially refunded", "一部返金済み";
    PayVoided => "Voided", "無効";
}

/// Shopify's order financial statuses, as stored, with their labels.
pub const FINANCIAL_STATUSES: [(&str, T); 7] = [
    ("paid", T::PayPaid),
    ("pending", T::PayPending),
    ("authorized", T::PayAuthorized),
    ("partially_paid", T::PayPartiallyPaid),
    ("refunded", T::PayRefunded),
    ("partially_refunded", T::PayPartiallyRefunded),
    ("voided", T::PayVoided),
];

/// An order's financial status in the member's language; one Conea does not know (another
/// source's) as stored.
pub fn financial_status(lang: Lang, status: &str) -> &str {
    FINANCIAL_STATUSES
        .iter()
        .find(|(s, _)| *s == status)
        .map_or(status, |(_, t)| lang.t(*t))
}

/// A job's progress message in the member's language: what a shop-data job wrote (an
/// import, a Shopify sync, a reconciliation: a [`ProgressNote`], stored in English, as the
/// API shows it) in Japanese; any other message as written.
pub fn progress_message(lang: Lang, text: &str) -> String {
    use conea_shopdata::RecordKind;
    let note = match (lang, ProgressNote::parse(text)) {
        (Lang::Ja, Some(note)) => note,
        _ => return text.to_owned(),
    };
    let kind = |k: RecordKind| {
        lang.t(match k {
            RecordKind::Orders => T::Orders,
            RecordKind::Products => T::Products,
            RecordKind::Customers => T::Customers,
        })
    };
    let n = |v: u64| int(i64::try_from(v).unwrap_or(i64::MAX));
    match note {
        ProgressNote::WaitingForTurn => {
            "このプロセスで先に始まった取り込みの完了を待っています".to_owned()
        }
        ProgressNote::ImportResuming { rows } => {
            format!("前回確定した {} 行の続きから再開しています", n(rows))
        }
        ProgressNote::ImportReading { rows, rejected } => {
            format!("{} 行を読み込み、{} 行を拒否", n(rows), n(rejected))
        }
        ProgressNote::ImportDone { imported, rejected } => {
            format!("{} 行を取り込み、{} 行を拒否", n(imported), n(rejected))
        }
        ProgressNote::SyncedInBulk { kind: k, records } => {
            format!("{}: 一括で {} 件を同期", kind(k), n(records))
        }
        ProgressNote::Synced { kind: k, records } => {
            format!("{}: {} 件を同期", kind(k), int(records))
        }
        ProgressNote::BulkOperation { kind: k, status } => {
            let status = match status.as_str() {
                "created" => "作成済み",
                "running" => "実行中",
                "completed" => "完了",
                "canceling" => "キャンセル中",
                "canceled" => "キャンセル済み",
                "expired" => "期限切れ",
                "failed" => "失敗",
                other => other,
            };
            format!("{}: 一括操作 {status}", kind(k))
        }
        ProgressNote::LinesRead { kind: k, lines } => {
            format!("{}: {} 行を読み込み", kind(k), n(lines))
        }
        ProgressNote::Reconciled {
            kind: k,
            checked,
            removed,
            fetched,
        } => format!(
            "{}: {} 件を照合、{} 件を削除、{} 件を取得",
            kind(k),
            int(checked),
            int(removed),
            int(fetched)
        ),
    }
}

/// A refusal or failure in the member's language. The core's messages are English (the
/// API's); in Japanese the kind of error is said in Japanese and the core's message follows
/// as its detail (it names the field, the value and the fix exactly).
pub fn error_message(lang: Lang, e: &conea_core::CoreError) -> String {
    use conea_core::CoreError as E;
    let param = |p: &Option<String>| p.as_ref().map(|p| format!("（{p}）")).unwrap_or_default();
    match (lang, e) {
        (_, E::Forbidden { required, .. }) => format!("{} ({required})", lang.t(T::Forbidden)),
        (_, E::NotFound { .. }) => lang.t(T::NotFound).to_owned(),
        (Lang::En, e) => e.public_message(),
        (Lang::Ja, E::InvalidInput { message, param: p, .. }) => {
            format!("入力が正しくありません{}。詳細: {message}", param(p))
        }
        (Lang::Ja, E::Unprocessable { message, param: p, .. }) => {
            format!("この内容は受け付けられません{}。詳細: {message}", param(p))
        }
        (Lang::Ja, E::Rejected { message, .. }) => {
            format!("受け付けられませんでした。詳細: {message}")
        }
        (Lang::Ja, E::Conflict { message, .. }) => {
            format!("現在の状態と競合するため実行できません。詳細: {message}")
        }
        (Lang::Ja, E::RateLimited { retry_after_s, .. }) => format!(
            "リクエストが多すぎます。{retry_after_s} 秒ほど待ってから再試行してください。"
        ),
        (Lang::Ja, E::Unavailable { message, .. }) => format!("現在利用できません。詳細: {message}"),
        (Lang::Ja, E::Upstream { message, .. }) => {
            format!("外部サービスがエラーを返しました。詳細: {message}")
        }
        (Lang::Ja, E::Unauthenticated(_)) => "サインインしてください。".to_owned(),
        (Lang::Ja, E::Internal(_)) => "予期しないエラーが発生しました。しばらくしてから再試行し、続く場合はリクエスト ID を添えて報告してください。".to_owned(),
    }
}

/// A job's state in the member's language (the raw state stays in `data-state`).
pub fn job_state(s: conea_jobs::JobState) -> T {
    use conea_jobs::JobState;
    match s {
        JobState::Available => T::JobAvailable,
        JobState::Scheduled => T::JobScheduled,
        JobState::Running => T::JobRunning,
        JobState::Retryable => T::JobRetryable,
        JobState::Completed => T::JobCompleted,
        JobState::Discarded => T::JobDiscarded,
        JobState::Cancelled => T::JobStateCancelled,
    }
}

/// A Shopify shop's connection state in the member's language (the raw state stays in
/// `data-state`).
pub fn shop_status(s: conea_shopify::integration::store::ShopifyStatus) -> T {
    use conea_shopify::integration::store::ShopifyStatus;
    match s {
        ShopifyStatus::Active => T::ShopActive,
        ShopifyStatus::Unauthorized => T::ShopUnauthorized,
        ShopifyStatus::Uninstalled => T::ShopUninstalled,
        ShopifyStatus::Disconnected => T::ShopDisconnected,
    }
}

/// A role in the member's language.
pub fn role_label(r: conea_core::permissions::Role) -> T {
    use conea_core::permissions::Role;
    match r {
        Role::Owner => T::RoleOwner,
        Role::Admin => T::RoleAdmin,
        Role::Member => T::RoleMember,
        Role::Viewer => T::RoleViewer,
    }
}

/// The label of an RFM segment's name.
pub fn segment(lang: Lang, name: &str) -> String {
    let key = match name {
        "champions" => T::SegChampions,
        "loyal" => T::SegLoyal,
        "new" => T::SegNew,
        "promising" => T::SegPromising,
        "at_risk" => T::SegAtRisk,
        "hibernating" => T::SegHibernating,
        other => return other.to_owned(),
    };
    lang.t(key).to_owned()
}

/// `1234567` → `1,234,567` (both languages group by thousands).
pub fn int(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn symbol(currency: &str) -> Option<&'static str> {
    Some(match currency {
        "JPY" => "¥",
        "USD" => "$",
        "EUR" => "€",
        "GBP" => "£",
        _ => return None,
    })
}

/// A decimal amount (`"1234.5"`) in a currency: `¥1,234`, `$1,234.50`, `1,234.50 CHF`.
/// The currency's minor digits: 0 for yen.
pub fn money(amount: &str, currency: &str) -> String {
    let amount = amount.trim();
    let (negative, amount) = match amount.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, amount),
    };
    let (whole, frac) = amount.split_once('.').unwrap_or((amount, ""));
    let minor = conea_shopdata::money::minor_digits(currency) as usize;
    let mut frac: String = frac.chars().take(minor).collect();
    while frac.len() < minor {
        frac.push('0');
    }
    let whole = int(whole.parse::<i64>().unwrap_or(0));
    let number = if minor == 0 {
        whole
    } else {
        format!("{whole}.{frac}")
    };
    let sign = if negative { "-" } else { "" };
    match symbol(currency) {
        Some(s) => format!("{sign}{s}{number}"),
        None => format!("{sign}{number} {currency}"),
    }
}

/// A percentage with one decimal and a sign: `+12.5%`.
pub fn percent(p: f64) -> String {
    format!("{p:+.1}%")
}

/// A ratio 0..1 as a percentage: `42.0%`.
pub fn ratio(r: f64) -> String {
    format!("{:.1}%", r * 100.0)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A calendar day: `Dec 4, 2026` / `2026年12月4日`.
pub fn date(lang: Lang, year: i16, month: i8, day: i8) -> String {
    match lang {
        Lang::En => format!(
            "{} {day}, {year}",
            MONTHS[(month as usize).saturating_sub(1) % 12]
        ),
        Lang::Ja => format!("{year}年{month}月{day}日"),
    }
}

/// A `YYYY-MM-DD` day as [`date`]; other text as it is.
pub fn day_text(lang: Lang, ymd: &str) -> String {
    match ymd.parse::<jiff::civil::Date>() {
        Ok(d) => date(lang, d.year(), d.month(), d.day()),
        Err(_) => ymd.to_owned(),
    }
}

/// How a date field of the language is filled in (its placeholder).
pub fn day_field_format(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "MM/DD/YYYY",
        Lang::Ja => "YYYY/MM/DD",
    }
}

/// A `YYYY-MM-DD` day as a date field of the language shows it: `12/04/2026` /
/// `2026/12/04`; other text as it is.
pub fn day_field(lang: Lang, ymd: &str) -> String {
    match ymd.trim().parse::<jiff::civil::Date>() {
        Ok(d) => match lang {
            Lang::En => format!("{:02}/{:02}/{}", d.month(), d.day(), d.year()),
            Lang::Ja => format!("{}/{:02}/{:02}", d.year(), d.month(), d.day()),
        },
        Err(_) => ymd.to_owned(),
    }
}

fn civil(year: &str, month: &str, day: &str) -> Option<jiff::civil::Date> {
    let num = |t: &str| -> Option<i64> {
        let t = t.trim();
        (!t.is_empty() && t.len() <= 4 && t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| t.parse().ok())
            .flatten()
    };
    let (y, m, d) = (num(year)?, num(month)?, num(day)?);
    if year.trim().len() != 4 {
        return None;
    }
    jiff::civil::Date::new(
        i16::try_from(y).ok()?,
        i8::try_from(m).ok()?,
        i8::try_from(d).ok()?,
    )
    .ok()
}

/// A date field's text, as the language writes days, as `YYYY-MM-DD`: English `12/4/2026`
/// (month first) or `Dec 4, 2026`; Japanese `2026/12/4` or `2026年12月4日`; either
/// `2026-12-04`. Text that is no day of the language comes back as it is, for the service to
/// refuse with its own message.
pub fn day_from_field(lang: Lang, text: &str) -> String {
    let t = text.trim();
    if let Ok(d) = t.parse::<jiff::civil::Date>() {
        return d.to_string();
    }
    let parsed = match lang {
        Lang::En => {
            let parts: Vec<&str> = t.split('/').collect();
            match parts.as_slice() {
                [m, d, y] => civil(y, m, d),
                _ => t.split_once(' ').and_then(|(mon, rest)| {
                    let mon = mon.get(..3)?;
                    let month = MONTHS.iter().position(|x| x.eq_ignore_ascii_case(mon))? + 1;
                    let (d, y) = rest.split_once(',')?;
                    civil(y, &month.to_string(), d)
                }),
            }
        }
        Lang::Ja => {
            let parts: Vec<&str> = t.trim_end_matches('日').split(['/', '年', '月']).collect();
            match parts.as_slice() {
                [y, m, d] => civil(y, m, d),
                _ => None,
            }
        }
    };
    parsed
        .map(|d| d.to_string())
        .unwrap_or_else(|| t.to_owned())
}

/// An instant in the time zone: `Dec 4, 2026 14:05` / `2026年12月4日 14:05`.
pub fn instant(lang: Lang, tz: &TimeZone, ms: i64) -> String {
    match Timestamp::from_millisecond(ms) {
        Ok(t) => {
            let z = tz.to_datetime(t);
            format!(
                "{} {:02}:{:02}",
                date(lang, z.year(), z.month(), z.day()),
                z.hour(),
                z.minute()
            )
        }
        Err(_) => String::new(),
    }
}

/// An RFC 3339 text as [`instant`]; other text as it is.
pub fn instant_text(lang: Lang, tz: &TimeZone, rfc3339: &str) -> String {
    match rfc3339.parse::<Timestamp>() {
        Ok(t) => instant(lang, tz, t.as_millisecond()),
        Err(_) => rfc3339.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_has_both_languages_and_the_japanese_is_japanese() {
        for key in T::ALL {
            assert!(!key.en().is_empty() && !key.ja().is_empty(), "{key:?}");
            // Product names and CPU alone may stay ASCII; every other has kana or kanji.
            if !matches!(key, T::Redis | T::Cpu) {
                assert!(!key.ja().is_ascii(), "{key:?} is not translated");
            }
        }
    }

    #[test]
    fn shop_data_progress_reads_in_japanese_and_other_messages_stay_as_written() {
        use conea_shopdata::RecordKind;
        let done = ProgressNote::ImportDone {
            imported: 1_200,
            rejected: 3,
        }
        .to_string();
        assert_eq!(
            progress_message(Lang::Ja, &done),
            "1,200 行を取り込み、3 行を拒否"
        );
        assert_eq!(progress_message(Lang::En, &done), done);
        let bulk = ProgressNote::BulkOperation {
            kind: RecordKind::Products,
            status: "running".into(),
        };
        assert_eq!(
            progress_message(Lang::Ja, &bulk.to_string()),
            "商品: 一括操作 実行中"
        );
        let reconciled = ProgressNote::Reconciled {
            kind: RecordKind::Customers,
            checked: 10,
            removed: 1,
            fetched: 2,
        };
        assert_eq!(
            progress_message(Lang::Ja, &reconciled.to_string()),
            "顧客: 10 件を照合、1 件を削除、2 件を取得"
        );
        assert_eq!(
            progress_message(Lang::Ja, "report computed"),
            "report computed"
        );
    }

    #[test]
    fn refusals_say_their_kind_in_japanese_and_keep_the_cores_detail() {
        let e = conea_core::CoreError::invalid("from", "from must be a date (YYYY-MM-DD).");
        assert_eq!(
            error_message(Lang::En, &e),
            "from must be a date (YYYY-MM-DD)."
        );
        assert_eq!(
            error_message(Lang::Ja, &e),
            "入力が正しくありません（from）。詳細: from must be a date (YYYY-MM-DD)."
        );
        let internal = conea_core::CoreError::Internal("secret cause".into());
        assert!(!error_message(Lang::Ja, &internal).contains("secret"));
        assert!(!error_message(Lang::En, &internal).contains("secret"));
    }

    #[test]
    fn money_and_dates_follow_the_language_and_currency() {
        assert_eq!(money("1234", "JPY"), "¥1,234");
        assert_eq!(money("1234.5", "USD"), "$1,234.50");
        assert_eq!(money("-1234567.00", "EUR"), "-€1,234,567.00");
        assert_eq!(money("12.30", "CHF"), "12.30 CHF");
        assert_eq!(date(Lang::Ja, 2026, 12, 4), "2026年12月4日");
        assert_eq!(date(Lang::En, 2026, 12, 4), "Dec 4, 2026");
        assert_eq!(int(-1_234_567), "-1,234,567");
        assert_eq!(
            instant_text(Lang::En, &TimeZone::UTC, "2026-12-04T14:05:09Z"),
            "Dec 4, 2026 14:05"
        );
    }

    #[test]
    fn date_fields_show_and_read_the_days_of_their_language() {
        assert_eq!(day_field(Lang::En, "2026-12-04"), "12/04/2026");
        assert_eq!(day_field(Lang::Ja, "2026-12-04"), "2026/12/04");
        for (lang, typed) in [
            (Lang::En, "12/04/2026"),
            (Lang::En, "12/4/2026"),
            (Lang::En, "Dec 4, 2026"),
            (Lang::En, "2026-12-04"),
            (Lang::Ja, "2026/12/04"),
            (Lang::Ja, "2026/12/4"),
            (Lang::Ja, "2026年12月4日"),
            (Lang::Ja, "2026-12-04"),
        ] {
            assert_eq!(
                day_from_field(lang, typed),
                "2026-12-04",
                "{lang:?} {typed}"
            );
        }
        // Each language reads its own order: 04/12/2026 is April 12th in English and no
        // day at all in Japanese (left for the service to refuse).
        assert_eq!(day_from_field(Lang::En, "04/12/2026"), "2026-04-12");
        assert_eq!(day_from_field(Lang::Ja, "04/12/2026"), "04/12/2026");
        assert_eq!(day_from_field(Lang::En, "13/01/2026"), "13/01/2026");
        assert_eq!(day_from_field(Lang::Ja, "2026/02/30"), "2026/02/30");
        assert_eq!(day_from_field(Lang::En, "soon"), "soon");
    }

    #[test]
    fn every_job_state_has_its_own_label_in_both_languages() {
        for lang in Lang::ALL {
            let labels: std::collections::HashSet<&str> = conea_jobs::JobState::ALL
                .into_iter()
                .map(|s| lang.t(job_state(s)))
                .collect();
            assert_eq!(labels.len(), conea_jobs::JobState::ALL.len(), "{lang:?}");
        }
        assert_eq!(
            Lang::Ja.t(job_state(conea_jobs::JobState::Running)),
            "実行中"
        );
        assert_eq!(
            Lang::En.t(job_state(conea_jobs::JobState::Running)),
            "Running"
        );
    }

    #[test]
    fn the_language_comes_from_the_cookie_then_accept_language() {
        assert_eq!(Lang::choose(Some("ja"), Some("en-US")), Lang::Ja);
        assert_eq!(
            Lang::choose(None, Some("ja-JP,ja;q=0.9,en;q=0.8")),
            Lang::Ja
        );
        assert_eq!(Lang::choose(None, Some("fr, en;q=0.5, ja;q=0.7")), Lang::Ja);
        assert_eq!(Lang::choose(None, Some("de")), Lang::En);
        assert_eq!(Lang::choose(Some("xx"), None), Lang::En);
    }
}
