// The slice of mvdan-sh (GopherJS build of mvdan.cc/sh/v3/syntax) that the
// policy's shell parser uses. Field names follow the Go structs; positions
// are UTF-8 byte offsets into the parsed source.
declare module "mvdan-sh" {
  export namespace MvdanSh {
    interface Pos {
      Offset(): number;
      Line(): number;
      Col(): number;
    }
    interface Node {
      Pos(): Pos;
      End(): Pos;
    }
    interface File extends Node {
      Stmts: Stmt[];
    }
    interface Stmt extends Node {
      Cmd: Node | null;
      Redirs: Redirect[];
      Negated: boolean;
      Background: boolean;
      Coprocess: boolean;
    }
    interface Lit extends Node {
      Value: string;
    }
    interface Word extends Node {
      Parts: Node[];
    }
    interface SglQuoted extends Node {
      Dollar: boolean;
      Value: string;
    }
    interface DblQuoted extends Node {
      Dollar: boolean;
      Parts: Node[];
    }
    interface ParamExp extends Node {
      Short: boolean;
      Excl: boolean;
      Length: boolean;
      Width: boolean;
      Param: Lit | null;
      Index: Node | null;
      Slice: Node | null;
      Repl: Node | null;
      Names: number;
      Exp: { Op: number; Word: Word | null } | null;
    }
    interface CmdSubst extends Node {
      Stmts: Stmt[];
      Backquotes: boolean;
    }
    interface ProcSubst extends Node {
      Op: number;
      Stmts: Stmt[];
    }
    interface Redirect extends Node {
      Op: number;
      N: Lit | null;
      Word: Word | null;
      Hdoc: Word | null;
    }
    interface ArrayElem extends Node {
      Index: Node | null;
      Value: Word | null;
    }
    interface ArrayExpr extends Node {
      Elems: ArrayElem[];
    }
    interface Assign extends Node {
      Append: boolean;
      Naked: boolean;
      Name: Lit | null;
      Index: Node | null;
      Value: Word | null;
      Array: ArrayExpr | null;
    }
    interface CallExpr extends Node {
      Assigns: Assign[];
      Args: Word[];
    }
    interface BinaryCmd extends Node {
      Op: number;
      X: Stmt;
      Y: Stmt;
    }
    interface IfClause extends Node {
      Cond: Stmt[];
      Then: Stmt[];
      Else: IfClause | null;
    }
    interface WhileClause extends Node {
      Until: boolean;
      Cond: Stmt[];
      Do: Stmt[];
    }
    interface WordIter extends Node {
      Name: Lit;
      Items: Word[];
    }
    interface ForClause extends Node {
      Select: boolean;
      Loop: Node;
      Do: Stmt[];
    }
    interface CaseItem extends Node {
      Patterns: Word[];
      Stmts: Stmt[];
    }
    interface CaseClause extends Node {
      Word: Word;
      Items: CaseItem[];
    }
    interface Block extends Node {
      Stmts: Stmt[];
    }
    interface Subshell extends Node {
      Stmts: Stmt[];
    }
    interface FuncDecl extends Node {
      Name: Lit;
      Body: Stmt;
    }
    interface DeclClause extends Node {
      Variant: Lit;
      Args: Assign[];
    }
    interface TimeClause extends Node {
      Stmt: Stmt | null;
    }
    interface CoprocClause extends Node {
      Name: Word | null;
      Stmt: Stmt;
    }
    interface ParseError {
      Error(): string;
      Incomplete: boolean;
    }
    interface Parser {
      Parse(src: string, name: string): File;
    }
    interface Syntax {
      NewParser(...options: unknown[]): Parser;
      NodeType(node: unknown): string;
      Walk(node: Node, visit: (node: Node | null) => boolean): void;
    }
  }
  const mvdan: { syntax: MvdanSh.Syntax };
  export default mvdan;
}
